package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/crypto/ssh"
)

// Conn runs commands on one target over the Dialer's shared connection. It
// is cheap, safe for concurrent use, and closed by Dialer.Close.
type Conn struct {
	c      *client
	target Target
}

// Target is the target this Conn reaches (with defaults filled in).
func (c *Conn) Target() Target { return c.target }

// HostKey is the key the host presented, in authorized_keys form; record it
// to pin the host on later runs.
func (c *Conn) HostKey() string { return c.c.hostKey }

// RunOptions are the streams of one command. Nil streams are empty (stdin)
// or discarded (stdout, stderr); the tail of both outputs is kept for
// ExitError either way.
type RunOptions struct {
	Stdin  io.Reader
	Stdout io.Writer
	Stderr io.Writer
	// TailLines is how many of the last output lines an ExitError carries;
	// 0 means 20.
	TailLines int
}

// ExitError is a command that ran on the host and failed.
type ExitError struct {
	Host   string // Target.Name
	Cmd    string
	Code   int    // exit status; -1 when it died by a signal or the status is unknown
	Signal string // the signal that killed it, if any
	Tail   string // last lines of stdout and stderr, interleaved
}

func (e *ExitError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s: command %s ", e.Host, shorten(e.Cmd))
	switch {
	case e.Signal != "":
		fmt.Fprintf(&b, "was killed by signal %s", e.Signal)
	case e.Code < 0:
		b.WriteString("ended without an exit status (connection lost?)")
	default:
		fmt.Fprintf(&b, "exited with status %d", e.Code)
	}
	if tail := strings.TrimRight(e.Tail, "\n"); tail != "" {
		b.WriteString(", last output:\n")
		for _, line := range strings.Split(tail, "\n") {
			b.WriteString("    ")
			b.WriteString(line)
			b.WriteByte('\n')
		}
		return strings.TrimRight(b.String(), "\n")
	}
	b.WriteString(" and printed nothing")
	return b.String()
}

// shorten quotes cmd for messages, cut to a readable length.
func shorten(cmd string) string {
	const max = 160
	cmd = strings.Join(strings.Fields(cmd), " ")
	if len(cmd) > max {
		cmd = cmd[:max] + "..."
	}
	return fmt.Sprintf("%q", cmd)
}

// Run runs cmd (a shell command; build it with Command or Quote) on the host
// and waits for it. A non-zero exit is *ExitError. Cancelling ctx ends the
// session and returns an error wrapping ctx.Err().
func (c *Conn) Run(ctx context.Context, cmd string, opts RunOptions) error {
	host := c.target.Name()
	select {
	case c.c.sessions <- struct{}{}:
		defer func() { <-c.c.sessions }()
	case <-ctx.Done():
		return fmt.Errorf("run %s on %s: %w", shorten(cmd), host, ctx.Err())
	case <-c.c.done:
		return fmt.Errorf("run %s on %s: connection closed", shorten(cmd), host)
	}

	sess, err := c.c.ssh.NewSession()
	if err != nil {
		return fmt.Errorf("run %s on %s: open session: %w", shorten(cmd), host, err)
	}
	defer sess.Close()

	lines := opts.TailLines
	if lines <= 0 {
		lines = 20
	}
	both, errTail := &tailBuffer{lines: lines}, &tailBuffer{lines: lines}
	tail := outputTail{both: both, err: errTail, lines: lines}
	// The caller's streams are used only until Run returns, even when a
	// cancelled session lingers (see below).
	g := &gate{}
	defer g.close()
	if opts.Stdin != nil {
		sess.Stdin = gatedReader{g, opts.Stdin}
	}
	sess.Stdout = gatedWriter{g, teeTo(opts.Stdout, both)}
	sess.Stderr = gatedWriter{g, teeTo(opts.Stderr, both, errTail)}

	full := cmd
	if c.target.Sudo {
		full = Command("sudo", "-n", "--", "sh", "-c", cmd)
	}
	if err := sess.Start(full); err != nil {
		return fmt.Errorf("run %s on %s: %w", shorten(cmd), host, err)
	}
	done := make(chan error, 1)
	go func() { done <- sess.Wait() }()
	select {
	case err = <-done:
	case <-ctx.Done():
		// OpenSSH refuses signal requests in some setups ("session
		// signalling requires privilege separation", seen for root on
		// OpenSSH 9.2) and keeps a session channel open until its command
		// exits, so the command may go on running on the host: wait only
		// briefly. Bound long commands on the host too (timeout(1)).
		sess.Signal(ssh.SIGTERM)
		sess.Close()
		select {
		case <-done:
		case <-time.After(cancelGrace):
		}
		return fmt.Errorf("run %s on %s: %w", shorten(cmd), host, ctx.Err())
	}
	if err == nil {
		return nil
	}
	var exit *ssh.ExitError
	if errors.As(err, &exit) {
		code := exit.ExitStatus()
		if exit.Signal() != "" {
			code = -1
		}
		return &ExitError{Host: host, Cmd: cmd, Code: code, Signal: exit.Signal(), Tail: tail.String()}
	}
	var missing *ssh.ExitMissingError
	if errors.As(err, &missing) {
		return &ExitError{Host: host, Cmd: cmd, Code: -1, Tail: tail.String()}
	}
	return fmt.Errorf("run %s on %s: %w", shorten(cmd), host, err)
}

// cancelGrace is how long a cancelled Run waits for the session to end.
const cancelGrace = 500 * time.Millisecond

// gate stops a session's copying goroutines from touching the caller's
// streams once Run returned.
type gate struct {
	mu     sync.Mutex
	closed bool
}

func (g *gate) close() {
	g.mu.Lock()
	g.closed = true
	g.mu.Unlock()
}

type gatedWriter struct {
	g *gate
	w io.Writer
}

func (w gatedWriter) Write(p []byte) (int, error) {
	w.g.mu.Lock()
	defer w.g.mu.Unlock()
	if w.g.closed {
		return len(p), nil
	}
	return w.w.Write(p)
}

type gatedReader struct {
	g *gate
	r io.Reader
}

func (r gatedReader) Read(p []byte) (int, error) {
	r.g.mu.Lock()
	closed := r.g.closed
	r.g.mu.Unlock()
	if closed {
		return 0, io.EOF
	}
	// Not under the lock: a read may block for long (a pipe).
	return r.r.Read(p)
}

// Output runs cmd and returns its standard output.
func (c *Conn) Output(ctx context.Context, cmd string) (string, error) {
	var out bytes.Buffer
	err := c.Run(ctx, cmd, RunOptions{Stdout: &out})
	return out.String(), err
}

func teeTo(w io.Writer, tails ...*tailBuffer) io.Writer {
	ws := make([]io.Writer, 0, len(tails)+1)
	if w != nil {
		ws = append(ws, w)
	}
	for _, t := range tails {
		ws = append(ws, t)
	}
	if len(ws) == 1 {
		return ws[0]
	}
	return io.MultiWriter(ws...)
}

// outputTail renders the last lines of a command's output in arrival
// order. Stdout and stderr travel on separate SSH streams, so a final error
// line can arrive before the stdout lines written ahead of it; the last
// stderr lines (up to 5) are therefore always kept, at the end.
type outputTail struct {
	both, err *tailBuffer
	lines     int
}

func (o outputTail) String() string {
	all := o.both.last(o.lines)
	errs := o.err.last(min(5, o.lines))
	missing := 0
	for i := len(errs) - 1; i >= 0; i-- {
		if slices.Contains(all[max(0, len(all)-len(errs)-o.lines/2):], errs[i]) {
			break
		}
		missing++
	}
	if missing > 0 {
		drop := max(0, len(all)+missing-o.lines)
		all = append(all[drop:], errs[len(errs)-missing:]...)
	}
	if len(all) == 0 {
		return ""
	}
	return strings.Join(all, "\n") + "\n"
}

// tailBuffer keeps the last lines written to it.
type tailBuffer struct {
	mu    sync.Mutex
	lines int
	buf   []byte
}

// maxTailBytes bounds memory when a command prints very long lines.
const maxTailBytes = 64 << 10

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, p...)
	// Trim from time to time, not on every write.
	if len(t.buf) > 2*maxTailBytes {
		t.buf = append([]byte(nil), t.buf[len(t.buf)-maxTailBytes:]...)
	}
	return len(p), nil
}

// last returns at most n of the last lines written.
func (t *tailBuffer) last(n int) []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimRight(string(t.buf), "\n")
	if s == "" || n <= 0 {
		return nil
	}
	all := strings.Split(s, "\n")
	if len(all) > n {
		all = all[len(all)-n:]
	}
	return all
}
