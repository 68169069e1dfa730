package remote

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// systemPath is prepended to PATH for commands that must find the tools of
// the system the host runs (NixOS puts them there, and setuid wrappers such
// as sudo and ping in /run/wrappers/bin), whatever the login shell set up.
const systemPath = `PATH=/run/current-system/sw/bin:/run/wrappers/bin:$PATH; export PATH; `

// HostCheck is a health check run on a host after activation.
type HostCheck struct {
	Cmd      string        // a shell command run on the host
	Timeout  time.Duration // per attempt; 0 means 30s
	Retries  int           // attempts after the first failed one
	Interval time.Duration // wait between attempts
}

// HostCheckError is a check that failed every attempt.
type HostCheckError struct {
	Host     string
	Cmd      string
	Attempts int
	Reason   string // of the last attempt: "exited with status 3", "timed out after 5s"
	Tail     string // last output lines of the last attempt
	Err      error  // the last attempt's error
}

func (e *HostCheckError) Error() string {
	var b strings.Builder
	attempts := "1 attempt"
	if e.Attempts != 1 {
		attempts = fmt.Sprintf("%d attempts", e.Attempts)
	}
	fmt.Fprintf(&b, "check %s failed on %s after %s (last one %s)", shorten(e.Cmd), e.Host, attempts, e.Reason)
	tail := strings.TrimRight(e.Tail, "\n")
	if tail == "" {
		b.WriteString(" and printed nothing")
		return b.String()
	}
	b.WriteString(", last output:")
	for _, line := range strings.Split(tail, "\n") {
		b.WriteString("\n    ")
		b.WriteString(line)
	}
	return b.String()
}

func (e *HostCheckError) Unwrap() error { return e.Err }

// timeoutStatus is GNU timeout's exit status when it stopped the command.
const timeoutStatus = 124

// RunHostCheck runs c.Cmd on the host, with the system's tools first on PATH,
// until one attempt exits 0 or the attempts (1 + Retries) are used up. Each
// attempt is bounded on the host by `timeout` when the host has it, so that a
// hung check does not leave processes behind, and here by ctx and a slightly
// longer deadline, for hosts without it. The error is *HostCheckError.
func RunHostCheck(ctx context.Context, conn *Conn, c HostCheck) error {
	host := conn.target.Name()
	if strings.TrimSpace(c.Cmd) == "" {
		return fmt.Errorf("check on %s: empty command", host)
	}
	if c.Timeout <= 0 {
		c.Timeout = 30 * time.Second
	}
	secs := strconv.FormatFloat(c.Timeout.Seconds(), 'f', -1, 64)
	// 2>&1: one stream keeps the output lines in the order the check wrote
	// them, which two SSH streams do not.
	cmd := systemPath + `exec 2>&1; if command -v timeout >/dev/null; then exec timeout -k 2 ` + secs + ` sh -c ` + Quote(c.Cmd) +
		`; else exec sh -c ` + Quote(c.Cmd) + `; fi`

	attempts := 1 + max(0, c.Retries)
	var last *HostCheckError
	for i := 1; i <= attempts; i++ {
		if i > 1 && c.Interval > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("check %s on %s: %w after %d failed attempts (last one %s)", shorten(c.Cmd), host, ctx.Err(), i-1, last.Reason)
			case <-time.After(c.Interval):
			}
		}
		actx, cancel := context.WithTimeout(ctx, c.Timeout+3*time.Second)
		err := conn.Run(actx, cmd, RunOptions{})
		cancel()
		if err == nil {
			return nil
		}
		if ctx.Err() != nil {
			return fmt.Errorf("check %s on %s: %w", shorten(c.Cmd), host, ctx.Err())
		}
		last = &HostCheckError{Host: host, Cmd: c.Cmd, Attempts: i, Err: err}
		var exit *ExitError
		switch {
		case errors.As(err, &exit) && exit.Code == timeoutStatus:
			last.Reason, last.Tail = "timed out after "+c.Timeout.String(), exit.Tail
		case errors.As(err, &exit) && exit.Signal != "":
			last.Reason, last.Tail = "was killed by signal "+exit.Signal, exit.Tail
		case errors.As(err, &exit) && exit.Code >= 0:
			last.Reason, last.Tail = "exited with status "+strconv.Itoa(exit.Code), exit.Tail
		case errors.As(err, &exit):
			last.Reason, last.Tail = "ended without an exit status (connection lost?)", exit.Tail
		case errors.Is(err, context.DeadlineExceeded):
			last.Reason = "timed out after " + c.Timeout.String()
		default:
			last.Reason = "could not run: " + err.Error()
		}
	}
	return last
}
