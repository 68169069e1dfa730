package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/remote"
)

// StopCmd is `ferry stop [--on ...]`.
type StopCmd struct {
	On          []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int      `name:"parallelism" default:"${machines_default}" help:"Machines at once."`
}

// StartCmd is `ferry start [--on ...]`.
type StartCmd struct {
	On          []string      `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int           `name:"parallelism" default:"${machines_default}" help:"Machines at once."`
	WaitTimeout time.Duration `name:"wait-timeout" default:"5m" help:"How long to wait for a started machine to accept SSH."`
}

// Run stops the hosts of the selected machines through their cloud's API
// (machines on hosts ferry created, such as aws.ec2), and records their
// state. A stopped instance keeps its disks; its public address may change
// when it starts again.
func (c *StopCmd) Run(a *App) error {
	_, err := a.power(c.On, providers.PowerStop, c.Parallelism)
	return err
}

// Run starts the hosts of the selected machines, waits until each accepts
// SSH with its pinned host key, and uploads their keys again (/run/keys
// did not survive the stop), as NixOps did.
func (c *StartCmd) Run(a *App) error {
	started, err := a.power(c.On, providers.PowerStart, c.Parallelism)
	if err != nil && len(started) == 0 {
		return err
	}
	// The state now holds the instances' new addresses.
	f, ferr := a.openSelected(func(cfg *spec.Config) ([]*spec.Machine, error) {
		var out []*spec.Machine
		for _, name := range started {
			m, err := machines.Named(cfg, name)
			if err != nil {
				return nil, err
			}
			out = append(out, m)
		}
		return out, nil
	})
	if ferr != nil {
		return ferr
	}
	defer f.Close()
	drivers := target.Default()
	failed := 0
	withKeys := []string{}
	results := make([]error, len(f.machines))
	f.each(a.opCtx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
		results[i] = func() error {
			drv, err := drivers.Driver(m.Target.Kind)
			if err != nil {
				return err
			}
			ep, err := f.target(m)
			if err != nil {
				return err
			}
			return drv.Wait(ctx, target.Env{SSH: f.dialer}, ep, c.WaitTimeout)
		}()
	})
	for i, m := range f.machines {
		if results[i] != nil {
			failed++
			fmt.Fprintf(a.Stdout, "%s> not reachable after the start: %v\n", m.Name, results[i])
			continue
		}
		fmt.Fprintf(a.Stdout, "%s> reachable\n", m.Name)
		if len(m.Keys) > 0 {
			withKeys = append(withKeys, m.Name)
		}
	}
	if len(withKeys) > 0 {
		if kerr := (&KeysUploadCmd{On: withKeys, Parallelism: c.Parallelism}).Run(a); kerr != nil && err == nil {
			err = kerr
		}
	}
	if failed > 0 && err == nil {
		err = fmt.Errorf("%s did not come back: see above; try ferry info", spec.Count(failed, "machine"))
	}
	return err
}

// power performs op on the hosts of the machines --on selects and
// returns the names of those it succeeded for.
func (a *App) power(on []string, op providers.PowerOp, parallelism int) ([]string, error) {
	if err := engine.LimitMachines.Check(parallelism); err != nil {
		return nil, err
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, err
	}
	ms, err := machines.Select(cfg, on, nil)
	if err != nil {
		return nil, err
	}
	dir, err := a.Dir()
	if err != nil {
		return nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	eng, closeEng, err := a.Engine(store, dir, nil)
	if err != nil {
		return nil, err
	}
	defer closeEng()
	results, err := eng.Power(a.opCtx, cfg, a.DeploymentFor(cfg), ms, op, parallelism, a.LockTimeout)
	if err != nil {
		return nil, err
	}
	var done []string
	failed := 0
	for i, r := range results {
		name := ms[i].Name
		if r.Err != nil {
			failed++
			fmt.Fprintf(a.Stdout, "%s> %s failed: %v\n", name, op, r.Err)
			continue
		}
		done = append(done, name)
		state := r.State
		if state == "" {
			state = "done"
		}
		fmt.Fprintf(a.Stdout, "%s> %s (%s)\n", name, state, r.Resource)
	}
	if failed > 0 {
		return done, fmt.Errorf("%s failed for %d of %s: see above", op, failed, spec.Count(len(results), "machine"))
	}
	return done, nil
}

// RebootCmd is `ferry reboot [--on ...]`.
type RebootCmd struct {
	On          []string      `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable; default: all)."`
	Parallelism int           `name:"parallelism" default:"${machines_default}" help:"Machines at once."`
	Timeout     time.Duration `name:"timeout" default:"5m" help:"How long to wait for a machine to come back with a new boot."`
}

// Run reboots the selected machines through their target's driver (over
// SSH), waits until each is back with a new boot and the same pinned host
// key, uploads their keys again (/run/keys did not survive) and runs
// their health checks. A machine that fails does not stop the others.
func (c *RebootCmd) Run(a *App) error {
	if err := engine.LimitMachines.Check(c.Parallelism); err != nil {
		return err
	}
	f, err := a.openFleet(c.On)
	if err != nil {
		return err
	}
	defer f.Close()
	drivers := target.Default()
	results := make([]error, len(f.machines))
	f.each(a.opCtx, c.Parallelism, func(ctx context.Context, i int, m *spec.Machine) {
		results[i] = func() error {
			drv, err := drivers.Driver(m.Target.Kind)
			if err != nil {
				return err
			}
			rb, ok := drv.(target.Rebooter)
			if !ok {
				return fmt.Errorf("targets of kind %q cannot be rebooted by ferry", drv.Kind())
			}
			ep, err := f.target(m)
			if err != nil {
				return err
			}
			_, err = rb.Reboot(ctx, target.Env{SSH: f.dialer}, ep, remote.RebootOptions{Timeout: c.Timeout})
			return err
		}()
	})
	var withKeys, withChecks []string
	failed := 0
	for i, m := range f.machines {
		if results[i] != nil {
			failed++
			fmt.Fprintf(a.Stdout, "%s> reboot failed: %v\n", m.Name, results[i])
			continue
		}
		fmt.Fprintf(a.Stdout, "%s> back with a new boot\n", m.Name)
		if len(m.Keys) > 0 {
			withKeys = append(withKeys, m.Name)
		}
		if len(m.Checks) > 0 {
			withChecks = append(withChecks, m.Name)
		}
	}
	if len(withKeys) > 0 {
		if kerr := (&KeysUploadCmd{On: withKeys, Parallelism: c.Parallelism}).Run(a); kerr != nil && err == nil {
			err = kerr
		}
	}
	if len(withChecks) > 0 {
		if cerr := (&CheckHealthCmd{On: withChecks, Parallelism: c.Parallelism}).Run(a); cerr != nil && err == nil {
			err = cerr
		}
	}
	if failed > 0 && err == nil {
		err = fmt.Errorf("%d of %s did not come back: see above; try ferry info", failed, spec.Count(len(f.machines), "machine"))
	}
	return err
}
