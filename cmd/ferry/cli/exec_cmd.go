package cli

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// ExecCmd is `ferry exec [--on NAME|@TAG]... -- CMD...`.
type ExecCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines running the command at once."`
	Command     []string `arg:"" passthrough:"partial" name:"command" help:"The command, after -- (joined with spaces and run by each host's shell)."`
}

// execResult is how the command ended on one machine.
type execResult struct {
	name string
	code int   // exit status; -1 when it did not run to one
	err  error // nil on success
}

// Run runs the command on every selected machine at once, each output line
// prefixed with the machine's name, then summarises. Exit status 1 when it
// failed anywhere.
func (c *ExecCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	words := dropDashes(c.Command)
	if len(words) == 0 {
		return errors.New("no command: give it after --, e.g. `ferry exec -- uptime`")
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	cmd := userCommand(words)
	results := make([]execResult, len(f.machines))
	var mu sync.Mutex // one line at a time on the shared streams
	f.each(a.ctx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
		results[i] = execOn(ctx, f, m, cmd, &mu, a)
	})

	var failed []execResult
	for _, r := range results {
		if r.err != nil {
			failed = append(failed, r)
		}
	}
	if len(failed) == 0 {
		fmt.Fprintf(a.Stderr, "ferry exec: succeeded on %s\n", spec.Count(len(results), "machine"))
		return nil
	}
	fmt.Fprintf(a.Stderr, "ferry exec: failed on %d of %s:\n", len(failed), spec.Count(len(results), "machine"))
	for _, r := range failed {
		if r.code >= 0 {
			fmt.Fprintf(a.Stderr, "  %s: exit status %d\n", r.name, r.code)
		} else {
			fmt.Fprintf(a.Stderr, "  %s: %s\n", r.name, errorLine(r.err))
		}
	}
	return &ExitError{Code: 1}
}

func execOn(ctx context.Context, f *fleet, m *spec.Machine, cmd string, mu *sync.Mutex, a *App) execResult {
	res := execResult{name: m.Name, code: -1}
	out := &prefixWriter{mu: mu, w: a.Stdout, prefix: m.Name + "> "}
	errw := &prefixWriter{mu: mu, w: a.Stderr, prefix: m.Name + "> "}
	defer out.Flush()
	defer errw.Flush()
	conn, err := f.dial(ctx, m)
	if err != nil {
		res.err = fmt.Errorf("unreachable: %w", err)
		return res
	}
	res.err = conn.Run(ctx, cmd, remote.RunOptions{Stdout: out, Stderr: errw})
	if res.err == nil {
		res.code = 0
	} else if code, ok := remoteExit(res.err); ok {
		res.code = code
	}
	return res
}
