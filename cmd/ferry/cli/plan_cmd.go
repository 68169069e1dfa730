package cli

import (
	"fmt"
	"os"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
)

// PlanCmd is `ferry plan`.
type PlanCmd struct {
	Out              string   `name:"out" short:"o" placeholder:"FILE" help:"Write the plan to FILE for a later 'ferry apply FILE'."`
	Destroy          bool     `name:"destroy" help:"Plan the deletion of everything."`
	Target           []string `name:"target" placeholder:"ADDR" help:"Limit to ADDR and its dependencies (repeatable)."`
	Replace          []string `name:"replace" placeholder:"ADDR" help:"Force replacement of ADDR (repeatable)."`
	Refresh          bool     `name:"refresh" default:"true" negatable:"" help:"Read real objects to detect drift (default true)."`
	DetailedExitcode bool     `name:"detailed-exitcode" help:"Exit 0 with no changes, 2 with changes, 1 on error."`
	JSON             bool     `name:"json" help:"Print the plan as JSON."`
	Parallelism      int      `name:"parallelism" default:"10" help:"Concurrent provider reads."`
	Machines
}

// Machines are the flags that select and activate machines.
type Machines struct {
	On       []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines (repeatable)."`
	Activate string   `name:"activate" default:"switch" enum:"switch,boot,test,dry-activate" help:"switch-to-configuration action: switch, boot, test or dry-activate."`
	Reboot   string   `name:"reboot" default:"never" enum:"never,if-needed,always" help:"Reboot machines: never, if-needed (kernel, initrd or kernel modules changed) or always."`
	// EvalMemory bounds one Nix evaluation pass (e.g. 4GiB); empty: one pass.
	ShowTrace  bool   `name:"show-trace" help:"Show Nix's evaluation trace when a machine fails to evaluate."`
	EvalMemory string `name:"eval-memory" placeholder:"SIZE" help:"Memory budget of one Nix evaluation pass (e.g. 4GiB): big fleets are evaluated in several passes."`
}

// evalMemory parses --eval-memory: a number of bytes with an optional
// unit (K, M, G, T as KiB, MiB, GiB, TiB; KB, MB, GB, TB decimal).
func (m Machines) evalMemory() (int64, error) {
	s := strings.TrimSpace(m.EvalMemory)
	if s == "" {
		return 0, nil
	}
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12},
		{"K", 1 << 10}, {"M", 1 << 20}, {"G", 1 << 30}, {"T", 1 << 40}, {"B", 1},
	}
	mult := int64(1)
	for _, u := range units {
		if num, ok := strings.CutSuffix(s, u.suffix); ok {
			s, mult = strings.TrimSpace(num), u.mult
			break
		}
	}
	n, err := strconv.ParseFloat(s, 64)
	if err != nil || n <= 0 || n*float64(mult) < 1<<20 {
		return 0, fmt.Errorf("--eval-memory %s: want a size of at least 1MiB, such as 512MiB or 4GiB", m.EvalMemory)
	}
	return int64(n * float64(mult)), nil
}

// Run plans.
func (c *PlanCmd) Run(a *App) error {
	if err := checkParallelism(c.Parallelism); err != nil {
		return err
	}
	p, err := a.makePlan(planRequest{destroy: c.Destroy, targets: c.Target, replace: c.Replace, refresh: c.Refresh, parallelism: c.Parallelism, quiet: c.JSON, machines: c.Machines})
	if err != nil {
		return err
	}
	if c.Out != "" {
		if err := writePlanFile(c.Out, p); err != nil {
			return err
		}
	}
	if c.JSON {
		data, err := plan.Encode(p)
		if err != nil {
			return err
		}
		if _, err := a.Stdout.Write(data); err != nil {
			return err
		}
	} else {
		renderPlan(a.Stdout, p, a.colors())
		if c.Out != "" {
			fmt.Fprintf(a.Stdout, "\nSaved the plan to %s. To apply exactly this plan, run:\n    ferry apply %s\n", c.Out, c.Out)
		}
	}
	if c.DetailedExitcode && p.HasChanges() {
		return &ExitError{Code: 2}
	}
	return nil
}

type planRequest struct {
	destroy          bool
	targets, replace []string
	refresh          bool
	parallelism      int
	quiet            bool
	machines         Machines
}

// makePlan loads the configuration and plans it against the state.
func (a *App) makePlan(r planRequest) (*plan.Plan, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	printer := &eventPrinter{w: a.Stderr, c: a.colors()}
	eng, done, err := a.Engine(store, cfg.Dir, printer.event)
	if err != nil {
		return nil, err
	}
	defer done()
	evalMemory, err := r.machines.evalMemory()
	if err != nil {
		return nil, err
	}
	return eng.Plan(a.ctx, cfg, engine.PlanOptions{
		EvalMemory:  evalMemory,
		ShowTrace:   r.machines.ShowTrace,
		On:          r.machines.On,
		Activate:    r.machines.Activate,
		Reboot:      r.machines.Reboot,
		Deployment:  a.DeploymentFor(cfg),
		Destroy:     r.destroy,
		Targets:     r.targets,
		Replace:     r.replace,
		NoRefresh:   !r.refresh,
		LockTimeout: a.LockTimeout,
		Parallelism: r.parallelism,
	})
}

// writePlanFile writes atomically so a reviewer never sees half a plan.
func writePlanFile(path string, p *plan.Plan) error {
	data, err := plan.Encode(p)
	if err != nil {
		return err
	}
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	return nil
}

// readPlanFile reads and decodes a plan file.
func readPlanFile(path string) (*plan.Plan, error) {
	if strings.HasSuffix(path, ".star") {
		// Not a plan: and the plan decoder's advice to run
		// `ferry plan --out PATH` would overwrite the configuration.
		return nil, fmt.Errorf("%s is a configuration file, not a plan file; write a plan with `ferry plan --out plan.json` and pass that (or run `ferry apply` without a file to plan and apply in one go)", path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read plan: %w; write one with `ferry plan --out %s`", err, path)
	}
	return plan.Decode(path, data)
}
