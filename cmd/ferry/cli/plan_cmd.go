package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
	"github.com/nixferry/ferry/engine/statestore"
)

// PlanCmd is `ferry plan`.
type PlanCmd struct {
	Out              string `name:"out" short:"o" placeholder:"FILE" help:"Write the plan to FILE for a later 'ferry apply FILE'."`
	DetailedExitcode bool   `name:"detailed-exitcode" help:"Exit 0 with no changes, 2 with changes, 1 on error."`
	JSON             bool   `name:"json" help:"Print the plan as JSON."`
	Clean            bool   `name:"clean" help:"Make no plan: release the Nix GC roots that plans of this deployment hold on their derivations (plans never applied), and say how many."`
	PlanFlags
	EvalFlags
	PlanLimits
}

// Help lists every concurrency limit with its default (engine/limits.go).
func (c *PlanCmd) Help() string { return engine.LimitsHelp("plan") }

// PlanLimits are the concurrency limits of planning. Their defaults and
// help come from engine/limits.go (kong variables, limitVars); they only
// shape how planning runs and are not recorded in the plan.
type PlanLimits struct {
	Parallelism            int `name:"parallelism" default:"${parallelism_default}" help:"${parallelism_help}" group:"limits"`
	MaxConcurrentHostReads int `name:"max-concurrent-host-reads" default:"${max_concurrent_host_reads_default}" help:"${max_concurrent_host_reads_help}" group:"limits"`
}

// check refuses a limit that would silently mean something else.
func (l PlanLimits) check() error {
	if err := engine.LimitParallelism.Check(l.Parallelism); err != nil {
		return err
	}
	return engine.LimitHostReads.Check(l.MaxConcurrentHostReads)
}

// PlanFlags are the choices that change what apply does. They are made at
// plan time and recorded in the plan; `ferry apply PLAN` refuses them
// (planTimeFlags), a plan-less `ferry apply` takes them for its plan.
type PlanFlags struct {
	Destroy  bool     `name:"destroy" help:"Plan the deletion of everything (machines are forgotten; their hosts are left as they are)."`
	Target   []string `name:"target" placeholder:"ADDR" help:"Limit to ADDR (a resource, or machine.NAME) and its dependencies (repeatable)."`
	Replace  []string `name:"replace" placeholder:"ADDR" help:"Force replacement of a resource, or redeploy machine.NAME although it is up to date (repeatable)."`
	Refresh  bool     `name:"refresh" default:"true" negatable:"" help:"Read real objects and hosts to detect drift (default true)."`
	On       []string `name:"on" placeholder:"NAME|@TAG" help:"Only these machines: names, machine.NAME, @tag, globs such as 'web-*' (repeatable)."`
	Exclude  []string `name:"exclude" placeholder:"NAME|@TAG" help:"Leave out these machines (same forms as --on; repeatable)."`
	Activate string   `name:"activate" default:"switch" enum:"switch,boot,test,dry-activate" help:"switch-to-configuration action: switch, boot, test or dry-activate."`
	Reboot   string   `name:"reboot" default:"never" enum:"never,if-needed,always" help:"Reboot machines: never, if-needed (kernel, initrd or kernel modules changed) or always."`
}

// planTimeFlags are the flag names of PlanFlags and the global --var:
// what `ferry apply PLAN` refuses.
var planTimeFlags = []string{"destroy", "target", "replace", "refresh", "on", "exclude", "activate", "reboot", "var"}

// EvalFlags shape how machines are evaluated; they do not change the plan.
type EvalFlags struct {
	ShowTrace bool `name:"show-trace" help:"Show Nix's evaluation trace when a machine fails to evaluate."`
	// EvalMemory bounds one Nix evaluation pass (e.g. 4GiB); empty: one pass.
	EvalMemory string `name:"eval-memory" placeholder:"SIZE" help:"Memory budget of one Nix evaluation pass (e.g. 4GiB): big fleets are evaluated in several passes."`
}

// evalMemory parses --eval-memory: a number of bytes with an optional
// unit (K, M, G, T as KiB, MiB, GiB, TiB; KB, MB, GB, TB decimal).
func (m EvalFlags) evalMemory() (int64, error) {
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
	if c.Clean {
		return c.clean(a)
	}
	if err := c.PlanLimits.check(); err != nil {
		return err
	}
	r, err := a.startRun()
	if err != nil {
		return err
	}
	defer r.close()
	r.to(a.Stderr, false)
	opts, err := a.planOptions(r.cfg, c.PlanFlags, c.EvalFlags, c.PlanLimits)
	if err != nil {
		return err
	}
	p, err := r.eng.Plan(a.ctx, r.cfg, opts)
	if err != nil {
		return err
	}
	if c.Out != "" {
		if err := writePlanFile(a.path(c.Out), p); err != nil {
			return err
		}
	} else {
		// Nobody can apply a plan that was not saved: its derivations
		// need no GC roots.
		_, _ = r.eng.ReleasePlanRoots(r.cfg.Dir, p)
	}
	if c.JSON {
		data, err := plan.Encode(redactPlan(p))
		if err != nil {
			return err
		}
		if _, err := a.Stdout.Write(data); err != nil {
			return err
		}
	} else {
		renderPlan(a.Stdout, p, a.colors())
		if c.Out != "" {
			fmt.Fprintf(a.Stdout, "\nSaved the plan to %s. To apply exactly this plan, run:\n    %s apply %s\n", c.Out, a.ferryCmd(), c.Out)
		}
	}
	if c.DetailedExitcode && p.HasChanges() {
		return &ExitError{Code: 2}
	}
	return nil
}

// clean is `ferry plan --clean`: it releases the GC roots of the
// deployment's plans (engine.CleanPlanRoots) under its lock.
func (c *PlanCmd) clean(a *App) error {
	if c.Out != "" {
		return fmt.Errorf("--clean makes no plan, so --out has nothing to write: run `ferry plan --clean`, then `ferry plan --out %s`", c.Out)
	}
	r, err := a.startRun()
	if err != nil {
		return err
	}
	defer r.close()
	r.to(a.Stderr, false)
	rel, err := r.eng.CleanPlanRoots(a.ctx, r.cfg.Dir, a.DeploymentFor(r.cfg), a.LockTimeout)
	if err != nil {
		return err
	}
	switch {
	case c.JSON:
		data, err := json.Marshal(rel)
		if err != nil {
			return err
		}
		_, err = a.Stdout.Write(append(data, '\n'))
		return err
	case rel.Roots == 0:
		fmt.Fprintf(a.Stdout, "No plan of deployment %s holds GC roots here.\n", rel.Deployment)
	default:
		fmt.Fprintf(a.Stdout, "Released %s held by %s of deployment %s: a garbage collection (nix-store --gc) may now remove their derivations, and applying those plans then asks for a new plan.\n",
			spec.Count(rel.Roots, "GC root"), spec.Count(rel.Plans, "plan"), rel.Deployment)
	}
	return nil
}

// run is one command's wiring: the configuration, the state store and an
// engine whose events go to a printer that the command can switch (a
// plan-less apply prints planning to stderr and applying to stdout).
type run struct {
	cfg   *spec.Config
	store *statestore.Store
	eng   *engine.Engine
	done  func()

	verbose bool // -v: the printers show all of Nix's log

	mu      sync.Mutex
	printer *eventPrinter
}

// startRun loads the configuration, opens the store and wires an engine.
func (a *App) startRun() (*run, error) {
	cfg, err := a.LoadConfig()
	if err != nil {
		return nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	r := &run{cfg: cfg, store: store, verbose: a.Verbose}
	r.eng, r.done, err = a.Engine(store, cfg.Dir, r.event)
	if err != nil {
		_ = store.Close()
		return nil, err
	}
	return r, nil
}

func (r *run) event(ev engine.Event) {
	r.mu.Lock()
	p := r.printer
	r.mu.Unlock()
	if p != nil {
		p.event(ev)
	}
}

// to sends the run's events to w from now on.
func (r *run) to(w io.Writer, asJSON bool) *eventPrinter {
	return r.use(&eventPrinter{w: w, json: asJSON, verbose: r.verbose})
}

func (r *run) use(p *eventPrinter) *eventPrinter {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.printer = p
	return p
}

func (r *run) close() {
	r.done()
	_ = r.store.Close()
}

// planOptions turns the plan-time flags into the engine's options.
func (a *App) planOptions(cfg *spec.Config, f PlanFlags, ev EvalFlags, limits PlanLimits) (engine.PlanOptions, error) {
	evalMemory, err := ev.evalMemory()
	if err != nil {
		return engine.PlanOptions{}, err
	}
	return engine.PlanOptions{
		Deployment:             a.DeploymentFor(cfg),
		Destroy:                f.Destroy,
		Targets:                f.Target,
		Replace:                f.Replace,
		NoRefresh:              !f.Refresh,
		On:                     f.On,
		Exclude:                f.Exclude,
		Activate:               f.Activate,
		Reboot:                 f.Reboot,
		Vars:                   sortedKeys(a.Var),
		LockTimeout:            a.LockTimeout,
		Parallelism:            limits.Parallelism,
		MaxConcurrentHostReads: limits.MaxConcurrentHostReads,
		EvalMemory:             evalMemory,
		ShowTrace:              ev.ShowTrace,
	}, nil
}

// writePlanFile writes atomically so a reviewer never sees half a plan,
// through a temporary file named after this process, and first removes
// the ones killed runs left in that folder. A plan holds state values: it
// is readable by its owner only, like state, whatever file was there.
func writePlanFile(path string, p *plan.Plan) error {
	data := p.File() // as signed: a large plan is not encoded twice
	if data == nil {
		var err error
		if data, err = plan.Encode(p); err != nil {
			return err
		}
	}
	atomicfile.Sweep(filepath.Dir(path), atomicfile.Legacy{})
	if err := atomicfile.WriteFile(path, data, 0o600); err != nil {
		return fmt.Errorf("write plan %s: %w", path, err)
	}
	return nil
}

// readPlanFile reads and decodes the plan file path, given on the command
// line (relative to -C), and named as given in errors.
func (a *App) readPlanFile(path string) (*plan.Plan, error) {
	if strings.HasSuffix(path, ".star") {
		// Not a plan: and the plan decoder's advice to run
		// `ferry plan --out PATH` would overwrite the configuration.
		return nil, fmt.Errorf("%s is a configuration file, not a plan file; write a plan with `ferry plan --out plan.json` and pass that (or run `ferry apply` without a file to plan and apply in one go)", path)
	}
	data, err := os.ReadFile(a.path(path))
	if err != nil {
		var pe *fs.PathError
		if errors.As(err, &pe) {
			pe.Path = path // as given
		}
		return nil, fmt.Errorf("read plan: %w; write one with `%s plan --out %s`", err, a.ferryCmd(), path)
	}
	return plan.Decode(path, data)
}
