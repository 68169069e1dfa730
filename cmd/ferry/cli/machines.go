package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// The day-2 commands (ssh, exec, info, check, generations, rollback) share
// what this file holds. Decisions:
//   - The configuration says which machines exist and how they are reached
//     (--on NAME|machine.NAME|@TAG, as plan and apply); the state says what
//     ferry deployed there and which host key it pinned. One remote.Dialer
//     serves a whole run.
//   - Host keys: the configuration's host_key, else the key recorded in
//     state when the record is for the same user@host:port, else trust on
//     first use (as plan does; `ferry ssh` says so on stderr).
//   - A command given after -- is joined with spaces and run by the host's
//     shell, as OpenSSH does.
//   - Exit status: `ssh NAME -- CMD` passes the remote status through;
//     exec and check exit 1 when any machine failed, after a summary.
//   - check looks for failed units only where systemd runs
//     (/run/systemd/system exists); elsewhere it skips them quietly.
//   - rollback holds the state lock from before it touches the host until
//     the new record is written, like apply.

// fleet is one day-2 run: the configuration, the deployment's state, the
// selected machines and the run's SSH connections.
type fleet struct {
	cfg        *spec.Config
	deployment string
	st         *state.State
	machines   []*spec.Machine // selected, in declaration order
	dialer     *remote.Dialer
}

// openFleet loads the configuration, reads the deployment's state and
// resolves --on (empty: every machine). Close the fleet when done.
func (a *App) openFleet(on []string) (*fleet, error) {
	return a.openSelected(func(cfg *spec.Config) ([]*spec.Machine, error) { return machines.Select(cfg, on, nil) })
}

// openSelected is openFleet with the machines chosen by sel.
func (a *App) openSelected(sel func(*spec.Config) ([]*spec.Machine, error)) (*fleet, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, err
	}
	if len(cfg.Machines) == 0 {
		return nil, fmt.Errorf("the configuration in %s declares no machine: add one with machine(name=..., target=ssh(...))", cfg.Dir)
	}
	ms, err := sel(cfg)
	if err != nil {
		return nil, err
	}
	dep := a.DeploymentFor(cfg)
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	st, _, err := store.Read(a.ctx, dep)
	if err != nil {
		return nil, err
	}
	opts, err := a.dialerOptions(remote.Options{KeyFiles: a.keyFiles()})
	if err != nil {
		return nil, err
	}
	return &fleet{cfg: cfg, deployment: dep, st: st, machines: ms, dialer: remote.NewDialer(opts)}, nil
}

// openMachine is openFleet for commands about one machine, named as in
// the configuration (NAME or machine.NAME).
func (a *App) openMachine(name string) (*fleet, *spec.Machine, error) {
	f, err := a.openSelected(func(cfg *spec.Config) ([]*spec.Machine, error) {
		m, err := machines.Named(cfg, name)
		return []*spec.Machine{m}, err
	})
	if err != nil {
		return nil, nil, err
	}
	return f, f.machines[0], nil
}

// Close ends the run's SSH connections.
func (f *fleet) Close() { _ = f.dialer.Close() }

// record is what the state says about m, nil when ferry never deployed it.
func (f *fleet) record(m *spec.Machine) *state.Machine { return f.st.Machines[m.Addr] }

// target is how m is reached now, references resolved from state, with
// the host key ferry holds it to (machines.MachineTarget; without one the
// Dialer trusts the key it sees first, as plan does).
func (f *fleet) target(m *spec.Machine) (remote.Target, error) {
	t, err := machines.MachineTarget(m, f.st)
	if err != nil {
		return remote.Target{}, err
	}
	return machines.RemoteTarget(t), nil
}

// dial connects to m over the run's Dialer.
func (f *fleet) dial(ctx context.Context, m *spec.Machine) (*remote.Conn, error) {
	t, err := f.target(m)
	if err != nil {
		return nil, err
	}
	return f.dialer.Dial(ctx, t)
}

// each runs fn for every selected machine, at most parallelism at once,
// and waits for all of them. fn reports its own failures.
func (f *fleet) each(ctx context.Context, parallelism int, fn func(ctx context.Context, i int, m *spec.Machine)) {
	var g errgroup.Group
	g.SetLimit(max(parallelism, 1))
	for i, m := range f.machines {
		g.Go(func() error {
			fn(ctx, i, m)
			return nil
		})
	}
	_ = g.Wait()
}

// targetString is user@host:port with defaults, as apply records it in
// state.Machine.Target.
func targetString(t spec.Target) string { return machines.ResolveTarget(t).String() }

// userCommand turns the words after -- into the shell command run on the
// host. Like OpenSSH, the words are joined with spaces and the host's shell
// interprets the result, so `ferry ssh web -- 'systemctl status nginx | head'`
// means what it says.
func userCommand(words []string) string {
	return strings.Join(words, " ")
}

// dropDashes removes the "--" kong keeps in front of passthrough words.
func dropDashes(words []string) []string {
	if len(words) > 0 && words[0] == "--" {
		return words[1:]
	}
	return words
}

// prefixWriter writes whole lines, each prefixed, to w; writers that share
// mu never interleave within a line. Call Flush when the stream ends.
type prefixWriter struct {
	mu     *sync.Mutex
	w      io.Writer
	prefix string
	buf    []byte
}

func (p *prefixWriter) Write(b []byte) (int, error) {
	p.buf = append(p.buf, b...)
	last := strings.LastIndexByte(string(p.buf), '\n')
	if last < 0 {
		return len(b), nil
	}
	lines := string(p.buf[:last+1])
	p.buf = append(p.buf[:0], p.buf[last+1:]...)
	var out strings.Builder
	for _, line := range strings.SplitAfter(lines, "\n") {
		if line != "" {
			out.WriteString(p.prefix)
			out.WriteString(line)
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if _, err := io.WriteString(p.w, out.String()); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Flush writes a last line that has no newline.
func (p *prefixWriter) Flush() {
	if len(p.buf) == 0 {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	fmt.Fprintf(p.w, "%s%s\n", p.prefix, p.buf)
	p.buf = nil
}

// remoteExit is the exit status of a command that ran on the host and
// failed, -1 when it did not run to an exit status.
func remoteExit(err error) (code int, ok bool) {
	var e *remote.ExitError
	if errors.As(err, &e) && e.Code >= 0 {
		return e.Code, true
	}
	return -1, false
}

// errorLine shortens an error to its first line, for one-line summaries.
func errorLine(err error) string {
	s, _, _ := strings.Cut(err.Error(), "\n")
	return strings.TrimSuffix(s, ", last output:")
}
