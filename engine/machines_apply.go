package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// machineRun holds what machine nodes of one apply share: the one build of
// every planned toplevel, and the named limits on copies and activations.
type machineRun struct {
	builds    map[string]nix.BuildResult // by drv
	buildErr  error
	buildDone chan struct{}
	copies    chan struct{} // --max-concurrent-copy
	activates chan struct{} // --max-concurrent-activate
}

// startMachines builds every machine system that is built locally in one
// nix-store --realise, in the background, while resources proceed.
func (x *executor) startMachines(opts ApplyOptions) {
	mr := &machineRun{
		buildDone: make(chan struct{}),
		copies:    make(chan struct{}, max(opts.MaxConcurrentCopy, 1)),
		activates: make(chan struct{}, max(opts.MaxConcurrentActivate, 1)),
	}
	x.mr = mr
	var drvs []string
	for _, m := range x.p.Machines {
		if m.Action == plan.Deploy && !m.BuildOnTarget {
			drvs = append(drvs, m.Drv)
		}
	}
	if len(drvs) == 0 {
		close(mr.buildDone)
		return
	}
	go func() {
		defer close(mr.buildDone)
		x.e.emit(Event{Kind: EventProgress, Message: fmt.Sprintf("building %d system(s) in one nix-store --realise", len(drvs))})
		start := time.Now()
		mr.builds, mr.buildErr = x.e.Nix.Build(x.opCtx, drvs, nix.BuildOptions{Jobs: opts.BuildJobs})
		built := 0
		for _, r := range mr.builds {
			if r.Err == nil {
				built++
			}
		}
		x.e.emit(Event{Kind: EventProgress, Duration: time.Since(start), Message: fmt.Sprintf("built %d of %d system(s)", built, len(drvs))})
	}()
}

// runMachine deploys one machine: wait for its build, connect, check that
// nobody deployed since the plan, copy what the host lacks, activate, and
// return the record to store.
func (x *executor) runMachine(m *plan.Machine) (*state.Machine, error) {
	ctx := x.opCtx
	prev := x.st.Machines[m.Addr]
	if m.Action == plan.Forget {
		return nil, nil
	}
	progress := func(format string, args ...any) {
		x.e.emit(Event{Kind: EventProgress, Addr: m.Addr, Message: fmt.Sprintf(format, args...)})
	}
	if !m.BuildOnTarget {
		<-x.mr.buildDone
		res, ok := x.mr.builds[m.Drv]
		switch {
		case ok && res.Err != nil:
			return nil, fmt.Errorf("build: %w", res.Err)
		case !ok && x.mr.buildErr != nil:
			return nil, fmt.Errorf("build: %w", x.mr.buildErr)
		case !ok:
			return nil, fmt.Errorf("build: no result for %s", m.Drv)
		}
	}
	conn, err := x.e.SSH.Dial(ctx, RemoteTarget(m.Target))
	if err != nil {
		return nil, fmt.Errorf("connect: %w", err)
	}
	if m.CurrentRead {
		cur, err := remote.CurrentSystem(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("read current system: %w", err)
		}
		if cur != m.Current {
			return nil, fmt.Errorf("refused: the host's current system changed since the plan (planned against %s, now %s): someone else deployed; run `ferry plan` again", orNone(m.Current), orNone(cur))
		}
	}
	if m.BuildOnTarget {
		progress("building on the target")
		if err := buildOnTarget(ctx, conn, m); err != nil {
			return nil, err
		}
	} else {
		x.mr.copies <- struct{}{}
		copyStart := time.Now()
		stats, err := remote.CopyClosure(ctx, conn, []string{m.Path}, func(p remote.CopyProgress) {
			if !p.Done && p.SentBytes == 0 {
				progress("copying %d paths, %s", p.Paths, mib(p.TotalBytes))
			}
		})
		<-x.mr.copies
		if err != nil {
			return nil, fmt.Errorf("copy closure: %w", err)
		}
		x.e.emit(Event{Kind: EventProgress, Addr: m.Addr, Duration: time.Since(copyStart),
			Message: fmt.Sprintf("copied %d of %d paths, %s", stats.Paths, stats.Closure, mib(stats.Bytes))})
	}
	x.mr.activates <- struct{}{}
	progress("activating (%s)", m.Activate)
	err = remote.Activate(ctx, conn, m.Path, m.Activate)
	<-x.mr.activates
	if err != nil {
		return nil, fmt.Errorf("activate (%s): %w", m.Activate, err)
	}
	rec := machineRecord(m, conn.HostKey(), prev)
	if m.Activate != "dry-activate" {
		rec.Drv, rec.Path, rec.Activation, rec.DeployedAt = m.Drv, m.Path, m.Activate, time.Now().UTC()
		if m.Activate != "test" {
			if gens, err := remote.Generations(ctx, conn); err == nil {
				for _, g := range gens {
					if g.Current {
						rec.Generation = g.Number
					}
				}
			}
		}
	}
	return rec, nil
}

// buildOnTarget copies the derivation closure and realises it on the host.
func buildOnTarget(ctx context.Context, conn *remote.Conn, m *plan.Machine) error {
	if _, err := remote.CopyClosure(ctx, conn, []string{m.Drv}, nil); err != nil {
		return fmt.Errorf("copy derivation to the target: %w", err)
	}
	if err := conn.Run(ctx, remote.Command("nix-store", "--realise", m.Drv), remote.RunOptions{}); err != nil {
		return fmt.Errorf("build on the target: %w", err)
	}
	return nil
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func mib(b int64) string { return fmt.Sprintf("%.1f MiB", float64(b)/(1<<20)) }
