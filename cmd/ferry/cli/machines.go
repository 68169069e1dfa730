package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"sync"

	"golang.org/x/sync/errgroup"

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
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, err
	}
	if len(cfg.Machines) == 0 {
		return nil, fmt.Errorf("the configuration in %s declares no machine: add one with machine(name=..., target=ssh(...))", cfg.Dir)
	}
	ms, err := selectMachines(cfg, on)
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
	keys := a.SSHKey
	if len(keys) == 0 {
		keys = nil // the default keys and ssh-agent
	}
	return &fleet{cfg: cfg, deployment: dep, st: st, machines: ms, dialer: remote.NewDialer(remote.Options{KeyFiles: keys})}, nil
}

// openMachine is openFleet for commands about one machine, named as in
// the configuration (NAME or machine.NAME).
func (a *App) openMachine(name string) (*fleet, *spec.Machine, error) {
	if strings.HasPrefix(name, "@") {
		return nil, nil, fmt.Errorf("%s: this command works on one machine: name it (tags select several machines only with exec, info and check)", name)
	}
	f, err := a.openFleet([]string{name})
	if err != nil {
		return nil, nil, err
	}
	return f, f.machines[0], nil
}

// Close ends the run's SSH connections.
func (f *fleet) Close() { _ = f.dialer.Close() }

// record is what the state says about m, nil when ferry never deployed it.
func (f *fleet) record(m *spec.Machine) *state.Machine { return f.st.Machines[m.Addr] }

// target is how m is reached: the configuration's target, with the host
// key from the configuration or, failing that, the key pinned in state
// when the state's record is for the same user, host and port (a key
// recorded for another address belongs to another host). Without either,
// the Dialer trusts the key it sees first, as plan does.
func (f *fleet) target(m *spec.Machine) remote.Target {
	t := remoteTarget(m.Target)
	if t.HostKey == "" {
		if rec := f.record(m); rec != nil && rec.HostKey != "" && rec.Target == targetString(m.Target) {
			t.HostKey = rec.HostKey
		}
	}
	return t
}

// dial connects to m over the run's Dialer.
func (f *fleet) dial(ctx context.Context, m *spec.Machine) (*remote.Conn, error) {
	return f.dialer.Dial(ctx, f.target(m))
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

// selectMachines resolves --on NAME|machine.NAME|@TAG (empty: all), in
// declaration order.
func selectMachines(cfg *spec.Config, on []string) ([]*spec.Machine, error) {
	if len(on) == 0 {
		return cfg.Machines, nil
	}
	sel := map[string]bool{}
	for _, o := range on {
		if tag, ok := strings.CutPrefix(o, "@"); ok {
			n := 0
			for _, m := range cfg.Machines {
				for _, t := range m.Tags {
					if t == tag {
						sel[m.Name] = true
						n++
					}
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("--on %s: no machine has the tag %q; tags in the configuration: %s", o, tag, orNone(strings.Join(allTags(cfg), ", ")))
			}
			continue
		}
		name := strings.TrimPrefix(o, "machine.")
		if cfg.MachineByName(name) == nil {
			return nil, fmt.Errorf("%s: no such machine in the configuration; machines: %s", o, machineNames(cfg))
		}
		sel[name] = true
	}
	var out []*spec.Machine
	for _, m := range cfg.Machines {
		if sel[m.Name] {
			out = append(out, m)
		}
	}
	return out, nil
}

func machineNames(cfg *spec.Config) string {
	names := make([]string, len(cfg.Machines))
	for i, m := range cfg.Machines {
		names[i] = m.Name
	}
	return strings.Join(names, ", ")
}

func allTags(cfg *spec.Config) []string {
	seen := map[string]bool{}
	var out []string
	for _, m := range cfg.Machines {
		for _, t := range m.Tags {
			if !seen[t] {
				seen[t] = true
				out = append(out, "@"+t)
			}
		}
	}
	sortStrings(out)
	return out
}

// remoteTarget converts a configured target for the SSH layer.
func remoteTarget(t spec.Target) remote.Target {
	out := remote.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if t.Jump != nil {
		j := remoteTarget(*t.Jump)
		out.Jump = &j
	}
	return out
}

// targetString is user@host:port with defaults, as apply records it in
// state.Machine.Target.
func targetString(t spec.Target) string {
	port, user := t.Port, t.User
	if port == 0 {
		port = remote.DefaultPort
	}
	if user == "" {
		user = remote.DefaultUser
	}
	return fmt.Sprintf("%s@%s:%d", user, t.Host, port)
}

// knownHostsLine is an OpenSSH known_hosts line pinning key for host:port.
func knownHostsLine(host string, port int, key string) string {
	if port == 0 {
		port = remote.DefaultPort
	}
	name := host
	if port != remote.DefaultPort {
		name = "[" + host + "]:" + strconv.Itoa(port)
	}
	return name + " " + strings.TrimSpace(key)
}

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
