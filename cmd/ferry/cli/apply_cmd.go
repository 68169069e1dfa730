package cli

import (
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

// ApplyCmd is `ferry apply [PLAN]`.
type ApplyCmd struct {
	PlanFile    string `arg:"" optional:"" name:"plan" help:"A plan file written by 'ferry plan --out'. Without it, plan now and ask."`
	AutoApprove bool   `name:"auto-approve" help:"Apply without asking (when no plan file is given)."`
	Parallelism int    `name:"parallelism" default:"10" help:"Operations running at once."`
	JSON        bool   `name:"json" help:"Print progress events and the result as JSON lines."`
	Machines
	MaxConcurrentCopy     int           `name:"max-concurrent-copy" default:"5" help:"Closure copies running at once."`
	MaxConcurrentActivate int           `name:"max-concurrent-activate" default:"10" help:"Activations running at once."`
	RebootTimeout         time.Duration `name:"reboot-timeout" default:"5m" help:"How long to wait for a rebooted machine to come back."`
}

// Run applies.
func (c *ApplyCmd) Run(a *App) error {
	if err := checkParallelism(c.Parallelism); err != nil {
		return err
	}
	var p *plan.Plan
	var err error
	if c.PlanFile != "" {
		if p, err = readPlanFile(c.PlanFile); err != nil {
			return err
		}
	} else {
		if p, err = a.makePlan(planRequest{refresh: true, parallelism: c.Parallelism, machines: c.Machines}); err != nil {
			return err
		}
		if !c.JSON {
			renderPlan(a.Stdout, p, a.colors())
		}
		if !p.HasChanges() {
			return nil
		}
		if !c.AutoApprove {
			ok, err := a.confirm("Do you want to perform these actions?")
			if err != nil {
				return err
			}
			if !ok {
				return fmt.Errorf("apply cancelled")
			}
		}
	}
	return a.applyPlan(p, engine.ApplyOptions{Parallelism: c.Parallelism, MaxConcurrentCopy: c.MaxConcurrentCopy,
		MaxConcurrentActivate: c.MaxConcurrentActivate, RebootTimeout: c.RebootTimeout}, c.JSON)
}

// applyPlan executes p and prints progress and a summary.
func (a *App) applyPlan(p *plan.Plan, opts engine.ApplyOptions, asJSON bool) error {
	dir, err := a.Dir()
	if err != nil {
		return err
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	printer := &eventPrinter{w: a.Stdout, json: asJSON, c: a.colors()}
	if a.Interactive && !asJSON {
		printer.live = newLiveStatus(p, a.Width)
	}
	eng, done, err := a.Engine(store, dir, printer.event)
	if err != nil {
		return err
	}
	defer done()
	opts.Dir, opts.Deployment, opts.LockTimeout, opts.OpContext = dir, a.Deployment, a.LockTimeout, a.opCtx
	if planUploadsKeys(p) {
		// The secrets are not in the plan: read them from the
		// configuration, whose inputs apply checks against the plan.
		if opts.Config, err = a.LoadConfig(); err != nil {
			return err
		}
	}
	res, err := eng.Apply(a.ctx, p, opts)
	printer.finish()
	if _, ok := a.LookupEnv("FERRY_STATS"); ok {
		fmt.Fprintf(a.Stderr, "ferry-stats: state_bytes_written=%d\n", store.BytesWritten())
	}
	if err != nil {
		return err
	}
	if asJSON {
		printer.event(engine.Event{Kind: "summary", Time: time.Now().UTC(), Message: fmt.Sprintf("%d added, %d changed, %d destroyed", res.Added, res.Changed, res.Destroyed), Serial: res.Serial})
	} else if res.Err() == nil {
		c := a.colors()
		fmt.Fprintf(a.Stdout, "\n%sApply complete!%s Resources: %d added, %d changed, %d destroyed.", c.green+c.bold, c.reset, res.Added, res.Changed, res.Destroyed)
		if len(p.Machines) > 0 {
			fmt.Fprintf(a.Stdout, " Machines: %d deployed.", res.Deployed)
		}
		fmt.Fprintln(a.Stdout)
		renderOutputs(a, res.Outputs)
	}
	return res.Err()
}

func planUploadsKeys(p *plan.Plan) bool {
	for _, m := range p.Machines {
		if len(m.Keys) > 0 && (m.Action == plan.Deploy || m.Action == plan.UploadKeys) {
			return true
		}
	}
	return false
}

func renderOutputs(a *App, outputs map[string]any) {
	if len(outputs) == 0 {
		return
	}
	fmt.Fprintln(a.Stdout, "\nOutputs:")
	for _, k := range sortedKeys(outputs) {
		fmt.Fprintf(a.Stdout, "  %s = %s\n", k, spec.Render(outputs[k]))
	}
}

// DestroyCmd is `ferry destroy`.
type DestroyCmd struct {
	AutoApprove bool     `name:"auto-approve" help:"Destroy without asking."`
	Target      []string `name:"target" placeholder:"ADDR" help:"Destroy only ADDR and what depends on it (repeatable)."`
	Parallelism int      `name:"parallelism" default:"10" help:"Operations running at once."`
	JSON        bool     `name:"json" help:"Print progress events as JSON lines."`
}

// Run destroys.
func (c *DestroyCmd) Run(a *App) error {
	if err := checkParallelism(c.Parallelism); err != nil {
		return err
	}
	p, err := a.makePlan(planRequest{destroy: true, targets: c.Target, refresh: true, parallelism: c.Parallelism})
	if err != nil {
		return err
	}
	if !c.JSON {
		renderPlan(a.Stdout, p, a.colors())
	}
	if !p.HasChanges() {
		return nil
	}
	if !c.AutoApprove {
		ok, err := a.confirm(fmt.Sprintf("Do you really want to destroy everything in deployment %q?", p.Deployment))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("destroy cancelled")
		}
	}
	return a.applyPlan(p, engine.ApplyOptions{Parallelism: c.Parallelism}, c.JSON)
}

// checkParallelism rejects a --parallelism that would silently mean
// something else.
func checkParallelism(n int) error {
	if n < 1 {
		return fmt.Errorf("--parallelism %d: give at least 1 (operations running at once)", n)
	}
	return nil
}
