package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/alecthomas/kong"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

// ApplyCmd is `ferry apply [PLAN]`.
type ApplyCmd struct {
	PlanFile    string `arg:"" optional:"" name:"plan" help:"A plan file written by 'ferry plan --out'. Without it, plan now and ask."`
	AutoApprove bool   `name:"auto-approve" help:"Apply without asking (when no plan file is given)."`
	// AllowInstall: --auto-approve alone never approves an install.
	AllowInstall bool `name:"allow-install" help:"With --auto-approve: also approve installs, which wipe the disks the plan names (without it, a plan that installs is refused)."`
	JSON         bool `name:"json" help:"Print progress events and the result as JSON lines."`
	PlanFlags
	EvalFlags
	RebootTimeout time.Duration `name:"reboot-timeout" default:"5m" help:"How long to wait for a rebooted machine to come back."`
	ReachTimeout  time.Duration `name:"reach-timeout" default:"5m" help:"How long to wait for a machine whose host this apply created (a new cloud instance) to accept SSH."`
	PlanLimits
	ApplyLimits
}

// Help lists every concurrency limit with its default (engine/limits.go).
func (c *ApplyCmd) Help() string { return engine.LimitsHelp("apply") }

// ApplyLimits are the machine limits of apply (engine/limits.go, as
// PlanLimits). --max-concurrent-host-reads of PlanLimits applies when
// apply plans (no plan file).
type ApplyLimits struct {
	MaxConcurrentCopy     int `name:"max-concurrent-copy" default:"${max_concurrent_copy_default}" help:"${max_concurrent_copy_help}" group:"limits"`
	MaxConcurrentActivate int `name:"max-concurrent-activate" default:"${max_concurrent_activate_default}" help:"${max_concurrent_activate_help}" group:"limits"`
	BuildJobs             int `name:"build-jobs" default:"${build_jobs_default}" help:"${build_jobs_help}" group:"limits"`
}

// check refuses a limit that would silently mean something else.
func (l ApplyLimits) check() error {
	for _, c := range []struct {
		limit engine.Limit
		n     int
	}{{engine.LimitCopy, l.MaxConcurrentCopy}, {engine.LimitActivate, l.MaxConcurrentActivate}, {engine.LimitBuildJobs, l.BuildJobs}} {
		if err := c.limit.Check(c.n); err != nil {
			return err
		}
	}
	return nil
}

// Run applies a saved plan exactly, or plans and applies under one lock.
func (c *ApplyCmd) Run(a *App, kctx *kong.Context) error {
	if err := c.PlanLimits.check(); err != nil {
		return err
	}
	if err := c.ApplyLimits.check(); err != nil {
		return err
	}
	opts := engine.ApplyOptions{Parallelism: c.Parallelism, MaxConcurrentCopy: c.MaxConcurrentCopy,
		MaxConcurrentActivate: c.MaxConcurrentActivate, BuildJobs: c.BuildJobs, RebootTimeout: c.RebootTimeout, ReachTimeout: c.ReachTimeout}
	if c.PlanFile != "" {
		if err := refusePlanTimeFlags(a, kctx, c.PlanFlags, a.Var, c.PlanFile); err != nil {
			return err
		}
		p, err := a.readPlanFile(c.PlanFile)
		if err != nil {
			return err
		}
		return a.applySaved(p, opts, c.JSON, c.PlanFile)
	}
	r, err := a.startRun()
	if err != nil {
		return err
	}
	defer r.close()
	popts, err := a.planOptions(r.cfg, c.PlanFlags, c.EvalFlags, c.PlanLimits)
	if err != nil {
		return err
	}
	return a.planAndApply(r, popts, opts, c.JSON, approval{auto: c.AutoApprove, allowInstall: c.AllowInstall}, "Do you want to perform these actions?", "apply cancelled")
}

// planAndApply plans and applies under one hold of the deployment's lock:
// with --lock-timeout it waits for another run before planning, and no
// run can change the state between the plan shown and its apply.
//
// Deferred machines (their systems depend on values this apply produces,
// such as the id of an instance it creates) are deployed in the same run,
// as `nixops deploy` does: after the apply, it plans again under the same
// lock (their inputs exist now), shows that plan, asks (or
// --auto-approve) and applies it, until nothing is deferred. --replace
// applies to the first plan only. A plan that defers the same machines as
// the one before made no progress: the run stops with an error naming
// them.
func (a *App) planAndApply(r *run, popts engine.PlanOptions, opts engine.ApplyOptions, asJSON bool, approve approval, question, cancelled string) error {
	r.to(a.Stderr, false)
	s, err := r.eng.Begin(a.ctx, popts.Deployment, "apply", a.LockTimeout)
	if err != nil {
		return err
	}
	defer s.Close()
	var waiting map[string]string // deferred by the plan applied last
	for round := 1; ; round++ {
		r.to(a.Stderr, false) // planning progress; execute prints the apply's
		p, err := s.Plan(a.ctx, r.cfg, popts)
		if err != nil {
			return err
		}
		deferred := p.Deferred()
		if round > 1 && (sameKeys(deferred, waiting) || round > len(r.cfg.Machines)+1) {
			_, _ = r.eng.ReleasePlanRoots(r.cfg.Dir, p)
			return stillDeferred(deferred)
		}
		if !asJSON {
			renderPlan(a.Stdout, p, a.colors())
		}
		if !p.HasChanges() {
			_, _ = r.eng.ReleasePlanRoots(r.cfg.Dir, p)
			return nil
		}
		installs := planInstalls(p) // render_install.go
		if approve.auto && len(installs) > 0 && !approve.allowInstall {
			_, _ = r.eng.ReleasePlanRoots(r.cfg.Dir, p)
			return fmt.Errorf("refused: this plan installs NixOS, which wipes disks (%s), and --auto-approve alone does not approve that: review the plan and answer the prompt, apply a saved plan (`ferry plan --out plan.json`, then `ferry apply plan.json`), or add --allow-install", strings.Join(installs, "; "))
		}
		if !approve.auto {
			q := question
			if len(installs) > 0 {
				q = "This INSTALLS NixOS and wipes: " + strings.Join(installs, "; ") + ".\n" + question
			}
			ok, err := a.confirm(q)
			if err == nil && !ok {
				err = fmt.Errorf("%s", cancelled)
			}
			if err != nil {
				_, _ = r.eng.ReleasePlanRoots(r.cfg.Dir, p)
				return err
			}
		}
		opts.Config = r.cfg
		if _, err := a.execute(r, p, opts, asJSON, s.Apply, ""); err != nil {
			return err
		}
		if len(deferred) == 0 {
			return nil
		}
		if !asJSON {
			fmt.Fprintf(a.Stdout, "\nPlanning again: the inputs of %s exist now (%s).\n\n", spec.Count(len(deferred), "deferred machine"), strings.Join(sortedKeys(deferred), ", "))
		}
		waiting = deferred
		popts.Replace = nil // done by the first round
	}
}

// approval is how a plan-less apply is approved: --auto-approve, and
// --allow-install, without which --auto-approve does not approve an
// install.
type approval struct{ auto, allowInstall bool }

// sameKeys reports whether a and b hold the same addresses.
func sameKeys(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if _, ok := b[k]; !ok {
			return false
		}
	}
	return true
}

// stillDeferred is the error of a plan-less apply whose new plan defers
// the machines again after everything they waited for was applied.
func stillDeferred(deferred map[string]string) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s still deferred after everything they wait for was applied, so planning again would not help:", spec.Count(len(deferred), "machine"), isAre(len(deferred)))
	for _, a := range sortedKeys(deferred) {
		fmt.Fprintf(&b, "\n  %s: %s", a, deferred[a])
	}
	b.WriteString("\nthe values stay unknown at plan time (does a resource plan them as unknown on every update?); make the machines' module args independent of them")
	return errors.New(b.String())
}

// applySaved applies a plan file: exactly that plan, or a refusal.
func (a *App) applySaved(p *plan.Plan, opts engine.ApplyOptions, asJSON bool, file string) error {
	cfg, cfgErr := a.LoadConfig()
	dir, err := a.Dir()
	if err != nil {
		return err
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	r := &run{cfg: cfg, store: store, verbose: a.Verbose}
	r.eng, r.done, err = a.Engine(store, dir, r.event)
	if err != nil {
		_ = store.Close()
		return err
	}
	defer r.close()
	// The deployment this configuration (or -d) names: a plan made for
	// another one is refused by name.
	opts.Deployment = a.Deployment
	if opts.Deployment == "" && cfgErr == nil {
		opts.Deployment = a.DeploymentFor(cfg)
	}
	if planNeedsConfig(p) || planUploadsToCache(p) {
		// The secrets (keys, sensitive outputs without a state key, fleet
		// caches' signing keys) are not in the plan: they come from the
		// configuration, whose inputs apply checks against the plan.
		if cfgErr != nil {
			return cfgErr
		}
		opts.Config = cfg
	}
	_, err = a.execute(r, p, opts, asJSON, r.eng.Apply, file)
	return err
}

// execute runs apply (a session's or the engine's) with progress and a
// summary. A plan that deferred machines names them in the summary, with
// the commands that deploy them next (planFile: the plan file applied, ""
// for a plan-less apply, which continues by itself).
func (a *App) execute(r *run, p *plan.Plan, opts engine.ApplyOptions, asJSON bool,
	apply func(context.Context, *plan.Plan, engine.ApplyOptions) (*engine.ApplyResult, error), planFile string) (*engine.ApplyResult, error) {
	dir, err := a.Dir()
	if err != nil {
		return nil, err
	}
	printer := &eventPrinter{w: a.Stdout, json: asJSON, c: a.colors(), verbose: a.Verbose}
	if a.Interactive && !asJSON {
		printer.live = newLiveStatus(p, a.Width)
	}
	r.use(printer)
	opts.Dir, opts.LockTimeout, opts.OpContext = dir, a.LockTimeout, a.opCtx
	res, err := apply(a.ctx, p, opts)
	printer.finish()
	if _, ok := a.LookupEnv("FERRY_STATS"); ok {
		fmt.Fprintf(a.Stderr, "ferry-stats: state_bytes_written=%d\n", r.store.BytesWritten())
	}
	if err != nil {
		return res, err
	}
	resources, machines := applySummary(p, res)
	if asJSON {
		msg := resources
		if machines != "" {
			msg += "; machines: " + machines
		}
		printer.event(engine.Event{Kind: "summary", Time: time.Now().UTC(), Message: msg, Serial: res.Serial})
		for _, addr := range sortedKeys(res.FellBack) {
			printer.event(engine.Event{Kind: "fell_back", Time: time.Now().UTC(), Addr: addr, Message: "fell back to push: " + res.FellBack[addr]})
		}
		for _, addr := range sortedKeys(res.Deferred) {
			printer.event(engine.Event{Kind: "deferred", Time: time.Now().UTC(), Addr: addr, Action: plan.Deferred, Message: res.Deferred[addr]})
		}
	} else if res.Err() == nil {
		c := a.colors()
		fmt.Fprintf(a.Stdout, "\n%sApply complete!%s Resources: %s.", c.green+c.bold, c.reset, resources)
		if machines != "" {
			fmt.Fprintf(a.Stdout, " Machines: %s.", machines)
		}
		fmt.Fprintln(a.Stdout)
		for _, addr := range sortedKeys(res.FellBack) {
			fmt.Fprintf(a.Stdout, "%s%s fell back to push:%s %s\n", c.yellow, addr, c.reset, res.FellBack[addr])
		}
		renderOutputs(a, res.Outputs, res.SensitiveOutputs)
		if len(res.Deferred) > 0 && planFile != "" {
			renderDeferred(a, res.Deferred, planFile)
		}
	}
	return res, res.Err()
}

// applySummary counts what an apply did to resources ("1 imported, 2
// added, 0 changed, 0 destroyed") and, when the plan had machines, to
// machines ("2 deployed, 1 forgotten, 1 deferred"; "" without machines).
// The human summary and the --json summary event say the same.
func applySummary(p *plan.Plan, res *engine.ApplyResult) (resources, machines string) {
	if res.Imported > 0 {
		resources = fmt.Sprintf("%d imported, ", res.Imported)
	}
	resources += fmt.Sprintf("%d added, %d changed, %d destroyed", res.Added, res.Changed, res.Destroyed)
	if len(p.Machines) == 0 {
		return resources, ""
	}
	machines = fmt.Sprintf("%d deployed", res.Deployed)
	if res.Forgotten > 0 {
		machines += fmt.Sprintf(", %d forgotten", res.Forgotten)
	}
	if len(res.Deferred) > 0 {
		machines += fmt.Sprintf(", %d deferred", len(res.Deferred))
	}
	return resources, machines
}

// renderDeferred names the machines a saved plan deferred and the
// commands that deploy them now that their inputs exist.
func renderDeferred(a *App, deferred map[string]string, planFile string) {
	c := a.colors()
	were, depend := "were", "their systems depend"
	if len(deferred) == 1 {
		were, depend = "was", "its system depends"
	}
	fmt.Fprintf(a.Stdout, "\n%sDeferred:%s %s %s not deployed: %s on values this apply produced.\n", c.yellow+c.bold, c.reset, spec.Count(len(deferred), "machine"), were, depend)
	for _, addr := range sortedKeys(deferred) {
		fmt.Fprintf(a.Stdout, "  %s: %s\n", addr, deferred[addr])
	}
	fc := a.ferryCmd()
	fmt.Fprintf(a.Stdout, "Their inputs exist now: run `%s plan --out %s`, review it and `%s apply %s` to deploy them (or `%s apply`, which plans and asks).\n", fc, shellWord(planFile), fc, shellWord(planFile), fc)
}

// refusePlanTimeFlags fails when a plan-time flag was given with a plan
// file: the plan already holds that choice, and apply never decides it
// anew. The error says how to make the plan that does what was asked.
func refusePlanTimeFlags(a *App, kctx *kong.Context, f PlanFlags, vars map[string]string, file string) error {
	given := map[string]bool{}
	for _, p := range kctx.Path {
		if p.Flag != nil {
			given[p.Flag.Name] = true
		}
	}
	var first string
	var redo []string
	for _, name := range planTimeFlags {
		if !given[name] {
			continue
		}
		if first == "" {
			first = name
		}
		switch name {
		case "destroy":
			redo = append(redo, "--destroy")
		case "refresh":
			redo = append(redo, fmt.Sprintf("--refresh=%t", f.Refresh))
		case "activate":
			redo = append(redo, "--activate "+f.Activate)
		case "reboot":
			redo = append(redo, "--reboot "+f.Reboot)
		case "var":
			// Values may be secret: name them only.
			for _, k := range sortedKeys(vars) {
				redo = append(redo, "--var "+k+"=...")
			}
		default:
			vals := map[string][]string{"target": f.Target, "replace": f.Replace, "on": f.On, "exclude": f.Exclude}[name]
			for _, v := range vals {
				redo = append(redo, "--"+name+" "+shellWord(v))
			}
		}
	}
	if first == "" {
		return nil
	}
	return fmt.Errorf("--%s is chosen at plan time, and %s holds the choices it was made with; run `%s plan %s --out %s` and review it (variables for keys can come from FERRY_VAR_<name>)",
		first, file, a.ferryCmd(), strings.Join(redo, " "), file)
}

// shellWord quotes s for a command the user may paste.
func shellWord(s string) string {
	if s != "" && strings.IndexFunc(s, func(r rune) bool {
		return !(r == '-' || r == '_' || r == '.' || r == '/' || r == '@' || r == ':' || r == '=' || r == ',' ||
			(r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z') || (r >= '0' && r <= '9'))
	}) < 0 {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

// planNeedsConfig reports whether applying p reads values from the
// configuration: keys to upload, or sensitive outputs p withheld.
func planNeedsConfig(p *plan.Plan) bool {
	for _, o := range p.Outputs {
		if o.Withheld {
			return true
		}
	}
	for _, m := range p.Machines {
		if len(m.Keys) > 0 && (m.Action == plan.Deploy || m.Action == plan.UploadKeys) {
			return true
		}
	}
	return false
}

// planUploadsToCache reports whether a machine the plan deploys uploads
// into a fleet cache, whose signing key apply reads from the
// configuration.
func planUploadsToCache(p *plan.Plan) bool {
	for _, m := range p.Machines {
		if t := m.Transfer; t != nil && t.URL != "" && m.Action == plan.Deploy {
			return true
		}
	}
	return false
}

func renderOutputs(a *App, outputs map[string]any, sensitive []string) {
	if len(outputs) == 0 {
		return
	}
	fmt.Fprintln(a.Stdout, "\nOutputs:")
	renderOutputLines(a.Stdout, "  ", redactOutputs(outputs, sensitive), sensitive)
}

// DestroyCmd is `ferry destroy`.
type DestroyCmd struct {
	AutoApprove bool     `name:"auto-approve" help:"Destroy without asking."`
	Target      []string `name:"target" placeholder:"ADDR" help:"Destroy only ADDR and what depends on it (repeatable)."`
	Parallelism int      `name:"parallelism" default:"${parallelism_default}" help:"${parallelism_help}" group:"limits"`
	JSON        bool     `name:"json" help:"Print progress events as JSON lines."`
}

// Run plans the deletion of everything (machines are forgotten) and
// applies it under one lock.
func (c *DestroyCmd) Run(a *App) error {
	if err := engine.LimitParallelism.Check(c.Parallelism); err != nil {
		return err
	}
	r, err := a.startRun()
	if err != nil {
		return err
	}
	defer r.close()
	popts, err := a.planOptions(r.cfg, PlanFlags{Destroy: true, Target: c.Target, Refresh: true, Activate: "switch", Reboot: "never"}, EvalFlags{}, PlanLimits{Parallelism: c.Parallelism})
	if err != nil {
		return err
	}
	return a.planAndApply(r, popts, engine.ApplyOptions{Parallelism: c.Parallelism}, c.JSON, approval{auto: c.AutoApprove},
		fmt.Sprintf("Do you really want to destroy everything in deployment %q?", popts.Deployment), "destroy cancelled")
}

// isAre is the verb after a count of n.
func isAre(n int) string {
	if n == 1 {
		return "is"
	}
	return "are"
}
