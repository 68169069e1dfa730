package remote

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
)

// CopyStats says what a CopyClosure sent.
type CopyStats struct {
	Paths   int64 // store paths sent (the ones the host lacked)
	Bytes   int64 // bytes streamed (nix-store --export format)
	Closure int64 // store paths in the closure
}

// CopyProgress is reported while a closure streams to a host.
type CopyProgress struct {
	Host       string
	Paths      int64 // store paths being sent
	TotalBytes int64 // their NAR size; the stream is slightly larger
	SentBytes  int64
	Done       bool
}

// progressEvery is how many bytes pass between two progress reports.
const progressEvery = 1 << 20

// CopyClosure copies the closures of paths to the host: it computes the
// closure locally (nix-store -qR), asks the host in one round trip which of
// those paths it lacks, and streams `nix-store --export` of only those, in
// dependency order, into `nix-store --import` on the host over conn. progress
// may be nil. It is PrepareCopy followed by Stream.
func CopyClosure(ctx context.Context, conn *Conn, paths []string, progress func(CopyProgress)) (CopyStats, error) {
	c, err := prepareCopy(ctx, conn, paths, nixTools())
	if err != nil {
		return c.stats, err
	}
	return c.Stream(ctx, progress)
}

// PreparedCopy is a closure copy whose questions are answered (the closure,
// what the host lacks, how big it is) but whose paths have not travelled
// yet. Preparing takes round trips and local queries but hardly any
// bandwidth, so callers that bound concurrent copies bound only Stream.
type PreparedCopy struct {
	conn    *Conn
	tools   remoteTools
	missing []string
	total   int64            // NAR bytes of missing
	sizes   map[string]int64 // NAR bytes of each missing path
	stats   CopyStats
}

// Missing is how many store paths the host lacks, and their NAR size.
func (c *PreparedCopy) Missing() (paths int, bytes int64) { return len(c.missing), c.total }

// PrepareCopy computes what CopyClosure would send to the host.
func PrepareCopy(ctx context.Context, conn *Conn, paths []string) (*PreparedCopy, error) {
	return prepareCopy(ctx, conn, paths, nixTools())
}

// PrepareCopyToStore is PrepareCopy into another store on the host than
// its own: store is a Nix store URL as the host's nix-store --store takes
// it, e.g. "local?root=/mnt" for the file systems an installer mounted
// (what `nix copy --to 'ssh://H?remote-store=local?root=/mnt'` does).
func PrepareCopyToStore(ctx context.Context, conn *Conn, paths []string, store string) (*PreparedCopy, error) {
	return (*Closures)(nil).PrepareCopyToStore(ctx, conn, paths, store)
}

// Closures remembers the local answers a copy needs before it asks the
// host (the closure of its paths, and their sizes), by the paths copied,
// for the copies of one run: hosts that get the same system (or the same
// script) ask the local store once. A nil *Closures remembers nothing. It
// is safe for concurrent use; the local store must not lose paths while it
// is used (closures of valid paths never change).
type Closures struct {
	mu sync.Mutex
	m  map[string]*localClosure
}

// localClosure is what the local store said of the closure of some paths.
// The first copy to ask runs the queries; the others wait for them (or for
// their own ctx).
type localClosure struct {
	mu          sync.Mutex
	closureDone chan struct{} // closed once closure and err are set; nil until asked
	closure     []string      // dependencies first, as nix-store -qR prints them
	err         error
	sizesDone   chan struct{}
	sizes       []string // nix-store --query --size of closure, in its order
	sizesErr    error
}

// PrepareCopyToStore is the package's PrepareCopyToStore, asking the
// local store about paths once per cl.
func (cl *Closures) PrepareCopyToStore(ctx context.Context, conn *Conn, paths []string, store string) (*PreparedCopy, error) {
	tools := nixTools()
	tools.store = store
	return cl.prepareCopy(ctx, conn, paths, tools)
}

// of returns the memo of paths' closure (a fresh one for a nil cl).
func (cl *Closures) of(paths []string) *localClosure {
	if cl == nil {
		return &localClosure{}
	}
	key := strings.Join(paths, "\n")
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.m == nil {
		cl.m = map[string]*localClosure{}
	}
	lc := cl.m[key]
	if lc == nil {
		lc = &localClosure{}
		cl.m[key] = lc
	}
	return lc
}

// shared runs query once for all callers, the first caller's ctx without
// its cancellation (another copy may wait for the answer; the queries take
// milliseconds), and waits for it or for ctx.
func shared(ctx context.Context, mu *sync.Mutex, done *chan struct{}, query func(context.Context)) error {
	mu.Lock()
	ch := *done
	if ch == nil {
		ch = make(chan struct{})
		*done = ch
		go func() {
			defer close(ch)
			query(context.WithoutCancel(ctx))
		}()
	}
	mu.Unlock()
	select {
	case <-ch:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// get returns the closure of paths. nix-store -qR prints it in dependency
// order (dependencies first), which is the order nix-store --import needs.
func (lc *localClosure) get(ctx context.Context, paths []string) ([]string, error) {
	if err := shared(ctx, &lc.mu, &lc.closureDone, func(ctx context.Context) {
		lc.closure, lc.err = localLines(ctx, "nix-store", append([]string{"--query", "--requisites"}, paths...)...)
	}); err != nil {
		return nil, err
	}
	return lc.closure, lc.err
}

// getSizes returns the NAR sizes of the closure get returned.
func (lc *localClosure) getSizes(ctx context.Context) ([]string, error) {
	if err := shared(ctx, &lc.mu, &lc.sizesDone, func(ctx context.Context) {
		lc.sizes, lc.sizesErr = localLines(ctx, "nix-store", append([]string{"--query", "--size"}, lc.closure...)...)
	}); err != nil {
		return nil, err
	}
	return lc.sizes, lc.sizesErr
}

func prepareCopy(ctx context.Context, conn *Conn, paths []string, tools remoteTools) (*PreparedCopy, error) {
	return (*Closures)(nil).prepareCopy(ctx, conn, paths, tools)
}

func (cl *Closures) prepareCopy(ctx context.Context, conn *Conn, paths []string, tools remoteTools) (*PreparedCopy, error) {
	c := &PreparedCopy{conn: conn, tools: tools}
	if len(paths) == 0 {
		return c, nil
	}
	lc := cl.of(paths)
	closure, err := lc.get(ctx, paths)
	if err != nil {
		cl.forget(paths, lc)
		return c, fmt.Errorf("compute closure of %s: %w", strings.Join(paths, " "), err)
	}
	c.stats.Closure = int64(len(closure))

	// The sizes (for progress) are read locally while the host answers.
	type sizesResult struct {
		lines []string
		err   error
	}
	sizesDone := make(chan sizesResult, 1)
	go func() {
		lines, err := lc.getSizes(ctx)
		sizesDone <- sizesResult{lines, err}
	}()
	missing, err := missingPaths(ctx, conn, closure, tools)
	sizes := <-sizesDone
	if sizes.err != nil {
		cl.forget(paths, lc)
	}
	if err != nil {
		return c, err
	}
	if len(missing) == 0 {
		return c, nil
	}
	if sizes.err != nil {
		return c, fmt.Errorf("query sizes of %d store paths: %w", len(closure), sizes.err)
	}
	if len(sizes.lines) != len(closure) {
		return c, fmt.Errorf("query sizes of %d store paths: got %d sizes", len(closure), len(sizes.lines))
	}
	isMissing := make(map[string]bool, len(missing))
	for _, p := range missing {
		isMissing[p] = true
	}
	c.sizes = make(map[string]int64, len(missing))
	for i, s := range sizes.lines {
		if isMissing[closure[i]] {
			n, _ := strconv.ParseInt(s, 10, 64)
			c.total += n
			c.sizes[closure[i]] = n
		}
	}
	c.missing = missing
	return c, nil
}

// forget drops lc, a failed answer, so that the next copy of paths asks
// again.
func (cl *Closures) forget(paths []string, lc *localClosure) {
	if cl == nil {
		return
	}
	key := strings.Join(paths, "\n")
	cl.mu.Lock()
	defer cl.mu.Unlock()
	if cl.m[key] == lc {
		delete(cl.m, key)
	}
}

// Recheck asks the host again which of the paths it lacked it still
// lacks (one round trip), after something else put paths into its store
// (Substitute).
func (c *PreparedCopy) Recheck(ctx context.Context) error {
	if len(c.missing) == 0 {
		return nil
	}
	missing, err := missingPaths(ctx, c.conn, c.missing, c.tools)
	if err != nil {
		return err
	}
	c.missing, c.total = missing, 0
	for _, p := range missing {
		c.total += c.sizes[p]
	}
	return nil
}

// Stream sends the paths the host lacks. progress may be nil.
func (c *PreparedCopy) Stream(ctx context.Context, progress func(CopyProgress)) (CopyStats, error) {
	host := c.conn.target.Name()
	if progress == nil {
		progress = func(CopyProgress) {}
	}
	stats := c.stats
	if len(c.missing) == 0 {
		progress(CopyProgress{Host: host, Done: true})
		return stats, nil
	}
	sent, err := streamPaths(ctx, c.conn, c.missing, c.tools, func(sent int64, done bool) {
		progress(CopyProgress{Host: host, Paths: int64(len(c.missing)), TotalBytes: c.total, SentBytes: sent, Done: done})
	})
	stats.Bytes = sent
	if err != nil {
		return stats, fmt.Errorf("copy %d store paths to %s: %w", len(c.missing), host, err)
	}
	stats.Paths = int64(len(c.missing))
	return stats, nil
}

// missingPaths returns the paths of closure the host does not have, in the
// order of closure. The paths travel on stdin, so any closure size fits.
func missingPaths(ctx context.Context, conn *Conn, closure []string, tools remoteTools) ([]string, error) {
	host := conn.target.Name()
	// set -f: store path names may contain '?', which must not glob.
	script := requireTool(tools.nixStore) +
		"set -f; exec " + Quote(tools.nixStore) + tools.storeArg() + " --check-validity --print-invalid $(cat)"
	var out bytes.Buffer
	err := conn.Run(ctx, script, RunOptions{
		Stdin:  strings.NewReader(strings.Join(closure, "\n") + "\n"),
		Stdout: &out,
	})
	if err != nil {
		return nil, fmt.Errorf("ask %s which store paths it lacks: %w", host, asNotFound(err, tools.nixStore))
	}
	invalid := map[string]bool{}
	for _, p := range strings.Fields(out.String()) {
		invalid[p] = true
	}
	var missing []string
	for _, p := range closure {
		if invalid[p] {
			missing = append(missing, p)
		}
	}
	return missing, nil
}

// streamPaths pipes a local `nix-store --export` into `nix-store --import` on
// the host and returns the bytes sent.
func streamPaths(ctx context.Context, conn *Conn, paths []string, tools remoteTools, report func(sent int64, done bool)) (int64, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return 0, fmt.Errorf("export store paths: %w", err)
	}
	defer pr.Close()

	var exportErr bytes.Buffer
	export := exec.Command("nix-store", append([]string{"--export"}, paths...)...)
	export.Stdout = pw
	export.Stderr = &exportErr
	if err := export.Start(); err != nil {
		pw.Close()
		return 0, fmt.Errorf("export store paths: %w", localToolError(err))
	}
	pw.Close() // the child holds the write end now
	exported := make(chan error, 1)
	go func() { exported <- export.Wait() }()

	counter := &countingReader{r: pr, report: report}
	report(0, false)
	script := requireTool(tools.nixStore) + "exec " + Quote(tools.nixStore) + tools.storeArg() + " --import"
	runErr := conn.Run(ctx, script, RunOptions{Stdin: counter})
	sent := counter.n.Load()

	if runErr != nil {
		export.Process.Kill()
		if err := <-exported; err != nil && !killedBySignal(err) {
			return sent, fmt.Errorf("local nix-store --export failed: %w: %s", err, lastLines(exportErr.String(), 10))
		}
		return sent, asNotFound(runErr, tools.nixStore)
	}
	if err := <-exported; err != nil {
		return sent, fmt.Errorf("local nix-store --export failed: %w: %s", err, lastLines(exportErr.String(), 10))
	}
	report(sent, true)
	return sent, nil
}

type countingReader struct {
	r        io.Reader
	n        atomic.Int64
	reported int64
	report   func(sent int64, done bool)
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	total := c.n.Add(int64(n))
	if total-c.reported >= progressEvery {
		c.reported = total
		c.report(total, false)
	}
	return n, err
}

func killedBySignal(err error) bool {
	var exit *exec.ExitError
	return errors.As(err, &exit) && exit.ExitCode() == -1
}

// localLines runs a local command and returns its non-empty output lines.
func localLines(ctx context.Context, name string, args ...string) ([]string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if msg := lastLines(stderr.String(), 10); msg != "" {
			return nil, fmt.Errorf("%s: %w: %s", name, localToolError(err), msg)
		}
		return nil, fmt.Errorf("%s: %w", name, localToolError(err))
	}
	return strings.Fields(stdout.String()), nil
}

func localToolError(err error) error {
	if errors.Is(err, exec.ErrNotFound) {
		return fmt.Errorf("%w (install Nix on this machine, e.g. apt-get install -y nix-bin)", err)
	}
	return err
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.TrimSpace(strings.Join(lines, "\n"))
}
