package cli

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
)

// KeysCmd is `ferry keys ...`.
type KeysCmd struct {
	Upload KeysUploadCmd `cmd:"" help:"Upload the machines' keys now (e.g. /run/keys after a reboot ferry did not make)."`
}

// KeysUploadCmd is `ferry keys upload [--on ...]`.
type KeysUploadCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines at once."`
}

// Run uploads every key of the selected machines (key(...) ones and
// those of their deployment.keys, read by evaluating them) over SSH and
// records their hashes (never the secrets) in state, under the state lock.
// A machine that fails does not stop the others; the exit status is 1
// when any failed.
func (c *KeysUploadCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	eng, closeStore, err := a.stateEngine()
	if err != nil {
		return err
	}
	planKey, err := eng.PlanKey(a.ctx, f.deployment, a.LockTimeout)
	closeStore()
	if err != nil {
		return err
	}
	// The keys of deployment.keys: the selected machines evaluated in one
	// Nix pass, module arguments from state.
	names := make([]string, len(f.machines))
	for i, m := range f.machines {
		names[i] = m.Name
	}
	nixKeys, err := (&machines.Pipeline{Nix: eng.Nix}).DeploymentKeys(a.ctx, f.cfg, f.cfg.Nixpkgs, f.cfg.NixpkgsFlake, f.st, names)
	if err != nil {
		return err
	}
	var failed []string
	err = a.modifyState("keys upload", func(st *state.State) (*state.State, error) {
		recs := make([]*state.Machine, len(f.machines))
		failedAt := make([]bool, len(f.machines))
		var printMu sync.Mutex
		f.each(a.opCtx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
			report := func(format string, args ...any) {
				printMu.Lock()
				defer printMu.Unlock()
				fmt.Fprintf(a.Stdout, "%s> %s\n", m.Name, fmt.Sprintf(format, args...))
			}
			if nk := nixKeys[m.Addr]; len(nk) > 0 {
				cp := *m
				cp.Keys = slices.Concat(m.Keys, nk)
				m = &cp
			}
			if len(m.Keys) == 0 {
				report("no keys")
				return
			}
			conn, err := f.dial(ctx, m)
			if err != nil {
				report("failed: %v", err)
				failedAt[i] = true
				return
			}
			rec := machines.RecordFor(st, m)
			if rec.HostKey == "" {
				rec.HostKey = conn.HostKey()
			}
			var names []string
			rec.Keys, names, err = machines.UploadKeys(ctx, conn, m, rec.Keys, planKey)
			recs[i] = rec
			if len(names) > 0 {
				report("uploaded %s: %s", spec.Count(len(names), "key"), strings.Join(names, ", "))
			}
			if err != nil {
				report("failed: %v", err)
				failedAt[i] = true
			}
		})
		out := st.Clone()
		if out.Machines == nil {
			out.Machines = map[string]*state.Machine{}
		}
		for i, m := range f.machines {
			if recs[i] != nil {
				out.Machines[m.Addr] = recs[i]
			}
			if failedAt[i] {
				failed = append(failed, m.Name)
			}
		}
		return out, nil
	})
	if err != nil {
		return err
	}
	if len(failed) > 0 {
		return fmt.Errorf("keys upload failed on %s: %s", spec.Count(len(failed), "machine"), strings.Join(failed, ", "))
	}
	return nil
}

// CheckHealthCmd is `ferry check-health [--on ...]`.
type CheckHealthCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines checked at once."`
}

// Run runs the configured health checks of the selected machines now.
func (c *CheckHealthCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	var (
		mu     sync.Mutex
		failed []string
	)
	f.each(a.ctx, c.Parallelism, func(ctx context.Context, _ int, m *spec.Machine) {
		msg := ""
		var err error
		if len(m.Checks) == 0 {
			msg = "no health checks"
		} else {
			conn, derr := f.dial(ctx, m)
			if err = derr; err == nil {
				err = machines.RunChecks(ctx, conn, machines.CheckSpecs(m.Checks))
			}
			msg = spec.Count(len(m.Checks), "health check") + " passed"
		}
		mu.Lock()
		defer mu.Unlock()
		if err != nil {
			failed = append(failed, m.Name)
			fmt.Fprintf(a.Stdout, "%s> unhealthy: %v\n", m.Name, err)
			return
		}
		fmt.Fprintf(a.Stdout, "%s> %s\n", m.Name, msg)
	})
	if len(failed) > 0 {
		return fmt.Errorf("%s unhealthy: %s", spec.Count(len(failed), "machine"), strings.Join(failed, ", "))
	}
	return nil
}
