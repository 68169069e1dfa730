package machines

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// PlanOptions are the plan-time choices the pipeline honours, as the core
// checked them (engine.PlanOptions; Activate and Reboot through
// CheckPolicy).
type PlanOptions struct {
	Destroy bool
	// On and Exclude select machines (Select).
	On, Exclude []string
	// Replace are the --replace addresses: the machines among them are
	// redeployed although up to date.
	Replace []string
	// Activate is switch, boot, test or dry-activate; Reboot never,
	// if-needed or always.
	Activate, Reboot string
	// Refresh reads every host's current system (false: --refresh=false).
	Refresh bool
	// EvalMemory bounds one Nix evaluation pass, in bytes (0: one pass).
	EvalMemory int64
	// ShowTrace asks Nix for its evaluation trace on errors.
	ShowTrace bool
}

// PlanRequest is what the plan builder gives the pipeline to plan the
// machines of a deployment.
type PlanRequest struct {
	Config *spec.Config
	State  *state.State
	// Values are the resources as planned so far.
	Values Values
	// Deps are the direct dependencies of every configured address
	// (engine.BuildConfigGraph).
	Deps map[string][]string
	// InScope reports whether --target keeps addr in the plan; nil keeps
	// everything.
	InScope func(addr string) bool
	Options PlanOptions
	// PlanKey keys the hashes of keys (nil: a plan never applied,
	// engine.BuildPlan).
	PlanKey []byte
	Sink    Sink
	// HostReads bounds the hosts read at once, Diffs the package diffs
	// computed at once (engine/limits.go).
	HostReads, Diffs Slots
}

// Activation actions (switch-to-configuration's).
var activations = map[string]bool{"switch": true, "boot": true, "test": true, "dry-activate": true}

// Reboot policies (--reboot).
const (
	RebootNever    = "never"
	RebootIfNeeded = "if-needed"
	RebootAlways   = "always"
)

// CheckPolicy checks the activation action and the reboot policy and
// fills in their defaults (switch, never).
func CheckPolicy(activate, reboot string) (string, string, error) {
	if activate == "" {
		activate = "switch"
	}
	if !activations[activate] {
		return activate, reboot, fmt.Errorf("--activate %s: want switch, boot, test or dry-activate", activate)
	}
	if reboot == "" {
		reboot = RebootNever
	}
	if reboot != RebootNever && reboot != RebootIfNeeded && reboot != RebootAlways {
		return activate, reboot, fmt.Errorf("--reboot %s: want never, if-needed or always", reboot)
	}
	return activate, reboot, nil
}

// planner plans the machines of one plan.
type planner struct {
	pl      *Pipeline
	cfg     *spec.Config
	st      *state.State
	values  Values
	deps    map[string][]string
	scope   func(string) bool
	opts    PlanOptions
	planKey []byte
	sink    Sink
	replace map[string]bool
	reads   Slots
	diffs   Slots
}

// nopSink discards progress.
type nopSink struct{}

func (nopSink) Progress(string, time.Duration, string) {}
func (nopSink) Warning(string, string)                 {}
func (nopSink) Nix(string, nix.LogEvent)               {}

// Plan evaluates every machine in one Nix pass, reads each host's current
// system, and appends to p a deploy for each machine whose system differs
// (p holds the resources planned so far). A machine whose system depends
// on a value known only after apply is deferred (unknown module args
// here, evaluate, deferDependents); one whose target is known only after
// apply is deployed without reading its host (target.go). Once every
// machine is planned, the derivations apply builds get GC roots
// (gcroots.go).
func (pl *Pipeline) Plan(ctx context.Context, p *plan.Plan, req PlanRequest) error {
	b := &planner{pl: pl, cfg: req.Config, st: req.State, values: req.Values, deps: req.Deps, scope: req.InScope,
		opts: req.Options, planKey: req.PlanKey, sink: req.Sink, replace: map[string]bool{}, reads: req.HostReads, diffs: req.Diffs}
	if b.sink == nil {
		b.sink = nopSink{}
	}
	for _, a := range req.Options.Replace {
		b.replace[a] = true
	}
	return b.plan(ctx, p)
}

func (b *planner) inScope(addr string) bool { return b.scope == nil || b.scope(addr) }

// configured reports whether addr is a machine of the configuration.
func (b *planner) configured(addr string) bool {
	name, ok := strings.CutPrefix(addr, "machine.")
	return ok && b.cfg.MachineByName(name) != nil
}

func (b *planner) plan(ctx context.Context, p *plan.Plan) error {
	cfg := b.cfg
	activate := b.opts.Activate
	// Selecting by a tag that only Nix may set (deployment.tags of a
	// machine without tags in the configuration) waits for evaluation:
	// such machines are evaluated in the same one pass as the others
	// (they may be selected), and selected once their tags are known.
	// Plans whose selection does not depend on them select first, as
	// before.
	nixTagged := !b.opts.Destroy && NeedsNixTags(cfg, b.opts.On, b.opts.Exclude)
	var selected []*spec.Machine
	var err error
	if nixTagged {
		selected, err = SelectTags(cfg, b.opts.On, b.opts.Exclude, func(m *spec.Machine) ([]string, bool) { return m.Tags, len(m.Tags) > 0 })
	} else {
		selected, err = Select(cfg, b.opts.On, b.opts.Exclude)
		p.TagMatches = tagMatches(TagMatches(cfg.Machines, b.opts.On, b.opts.Exclude, configTags))
	}
	if err != nil {
		return err
	}
	sel := map[string]bool{}
	for _, m := range selected {
		if b.inScope(m.Addr) {
			sel[m.Name] = true
		}
	}
	p.Nixpkgs, p.NixpkgsFlake = cfg.Nixpkgs, cfg.NixpkgsFlake
	if b.opts.Destroy {
		// ferry created none of these hosts: destroying forgets them and
		// leaves each host running what it runs. Each is forgotten before
		// the resources it depends on are deleted (engine/edges.go).
		for _, addr := range sortedKeys(b.st.Machines) {
			if !b.inScope(addr) || (cfg.MachineByName(strings.TrimPrefix(addr, "machine.")) != nil && !sel[strings.TrimPrefix(addr, "machine.")]) {
				continue
			}
			rec := b.st.Machines[addr]
			p.Machines = append(p.Machines, &plan.Machine{Name: strings.TrimPrefix(addr, "machine."), Addr: addr, Action: plan.Forget,
				Reason: "destroy: ferry forgets the machine; the host is left running as it is", Previous: rec.Path, DeclaredAt: rec.DeclaredAt,
				Deps: b.machineDeps(addr, rec)})
		}
		return nil
	}
	// Forget machines no longer configured.
	for addr, rec := range b.st.Machines {
		name := strings.TrimPrefix(addr, "machine.")
		if cfg.MachineByName(name) == nil && b.inScope(addr) && len(b.opts.On) == 0 && len(b.opts.Exclude) == 0 {
			p.Machines = append(p.Machines, &plan.Machine{Name: name, Addr: addr, Action: plan.Forget,
				Reason: "not in configuration (the host is left as it is)", Previous: rec.Path, DeclaredAt: rec.DeclaredAt,
				Deps: b.machineDeps(addr, rec)})
		}
	}
	if len(sel) == 0 {
		return nil
	}

	machines, unknownArgs, err := evalMachines(cfg, b.values.Lookup)
	if err != nil {
		return err
	}
	names := make([]string, 0, len(sel))
	for n := range sel {
		names = append(names, n)
	}
	sort.Strings(names)

	// Machines whose module args are known only after apply are deferred
	// before evaluation, and so is every machine deployed after one.
	deferred := map[string]string{}
	for _, name := range names {
		if refs := unknownArgs[name]; len(refs) > 0 {
			deferred[name] = "its module args use " + b.knownAfterApply(refs, p)
		}
	}
	b.deferDependents(names, deferred)

	// Targets: resolved as far as the plan knows them. The hosts of those
	// fully known are read while Nix evaluates: one connection and one
	// round trip each.
	targets := map[string]plan.Target{}
	pendingTarget := map[string]string{} // by address: why the host is not read
	stopped := map[string]string{}       // by address: why the host is down on purpose (not read)
	reads := map[string]remote.Target{}
	lateReads := map[string]remote.Target{} // read once selected by their deployment.tags
	var fromNix []string                    // machines whose target their modules give (deployment.targetHost, ...)
	for _, name := range names {
		m := cfg.MachineByName(name)
		if m.Target.FromNix {
			targets[m.Addr] = plan.Target{From: "deployment.targetHost, targetPort and targetUser, once evaluated"}
			fromNix = append(fromNix, name)
			continue
		}
		why := b.hostStopped(m.Target.Resource, m.Name)
		t, unknown, err := b.planTarget(m)
		switch {
		case why != "":
			// A stopped instance is not read, and its address may be
			// gone (a public IP): only what the plan shows is kept.
			if err != nil || len(unknown) > 0 {
				t = plan.Target{Kind: m.Target.Kind, Resource: m.Target.Resource}
			}
			targets[m.Addr], stopped[m.Addr] = t, why
			continue
		case err != nil:
			return err
		}
		targets[m.Addr] = t
		switch {
		case deferred[name] != "":
		case len(unknown) > 0:
			pendingTarget[m.Addr] = "the host is " + b.knownAfterApplyOf(targetRefs(m.Target), p) +
				": it is not read now; apply connects once it exists and deploys it"
		default:
			ep, err := b.pl.drivers().Driver(t.Kind)
			if err != nil {
				return spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: %v", m.Name, err))
			}
			into := reads
			if nixTagged && len(m.Tags) == 0 {
				into = lateReads
			}
			if into[m.Addr], err = ep.Endpoint(ctx, target.Env{SSH: b.pl.SSH}, t); err != nil {
				return spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: target: %v", m.Name, err))
			}
		}
	}
	var hosts func() map[string]*hostRead
	if b.opts.Refresh {
		hosts = b.readHosts(ctx, reads)
	}
	// Systems given by store path are not evaluated (build.go).
	var evalNames []string
	for _, name := range names {
		if cfg.MachineByName(name).StorePath == "" {
			evalNames = append(evalNames, name)
		}
	}
	machines = slices.DeleteFunc(machines, func(nm nix.Machine) bool {
		m := cfg.MachineByName(nm.Name)
		return m != nil && m.StorePath != ""
	})
	evaluated, err := b.evaluate(ctx, p, machines, evalNames, deferred)
	if err != nil {
		return err
	}
	for _, name := range names {
		if m := cfg.MachineByName(name); m.StorePath != "" {
			evaluated[name] = nix.Evaluated{OutPath: m.StorePath}
		}
	}
	b.deferDependents(names, deferred)
	if nixTagged {
		if names, fromNix, err = b.selectByNixTags(p, names, fromNix, evaluated); err != nil {
			return err
		}
	}
	if err := b.checkDeferredDependents(p, deferred); err != nil {
		return err
	}

	nixHosts, err := b.nixTargets(ctx, fromNix, evaluated, deferred, targets)
	if err != nil {
		return err
	}
	var read map[string]*hostRead
	if hosts != nil {
		read = hosts()
		for addr, h := range nixHosts() {
			read[addr] = h
		}
		late := map[string]remote.Target{}
		for _, name := range names {
			if ep, ok := lateReads[spec.MachineAddr(name)]; ok {
				late[spec.MachineAddr(name)] = ep
			}
		}
		if len(late) > 0 {
			for addr, h := range b.readHosts(ctx, late)() {
				read[addr] = h
			}
		}
	}
	planned := make([]*plan.Machine, 0, len(names))
	boots := map[string]remote.BootFiles{}
	var keyErrs []string
	transfersChecked := map[*spec.Transfer]error{}
	for _, name := range names {
		m := cfg.MachineByName(name)
		rec := b.st.Machines[m.Addr]
		if why := deferred[name]; why != "" {
			pm := &plan.Machine{Name: name, Addr: m.Addr, Action: plan.Deferred, Reason: why, Target: targets[m.Addr],
				Tags: m.Tags, Deps: b.deps[m.Addr], DeclaredAt: m.Pos.String()}
			if rec != nil {
				pm.Previous = rec.Path
			}
			p.Machines = append(p.Machines, pm)
			continue
		}
		ev := evaluated[name]
		pm := &plan.Machine{
			Name: name, Addr: m.Addr, Target: targets[m.Addr],
			Drv: ev.DrvPath, Path: ev.OutPath, Activate: activate,
			BuildOnTarget: m.BuildOnTarget, Tags: m.Tags, Deps: b.deps[m.Addr], DeclaredAt: m.Pos.String(),
			BuildHost: b.planBuildHost(m), // build.go
		}
		if m.StorePath != "" {
			pm.SystemGiven = plan.SystemSubstitute // until locateGiven finds where it is
		}
		// A system built on the target or a build host never passes
		// through here: the machine's transfer does not apply to it.
		if !m.BuildOnTarget && m.BuildHost == nil {
			if pm.Transfer, err = planTransfer(ctx, m, transfersChecked); err != nil { // transfer.go
				return err
			}
		}
		if rec != nil {
			pm.Previous = rec.Path
		}
		if d := ev.Deployment; len(m.Tags) == 0 && d != nil && len(d.Tags) > 0 {
			pm.Tags, pm.TagsFrom = d.Tags, "deployment.tags"
		}
		if d := ev.Deployment; d != nil {
			pm.FastConnection, pm.AlwaysActivate = d.HasFastConnection, d.AlwaysActivate
		}
		keysAgainst := rec
		if pendingTarget[m.Addr] != "" {
			keysAgainst = nil // a new host: it has none of the keys
		}
		if err := planSafety(pm, withNixKeys(m, ev.Deployment), keysAgainst, b.planKey); err != nil {
			return err
		}
		if ev.Boot != nil {
			boots[m.Addr] = remote.BootFiles{Kernel: ev.Boot.Kernel, Initrd: ev.Boot.Initrd, Modules: ev.Boot.Modules}
		}
		// A host that rebooted into the system an interrupted install put
		// on it presents that system's key: planInstall reads it with that.
		h := read[m.Addr]
		if h != nil && rebootedInto(h.err, rec) && b.installNeeded(m, rec) && pendingTarget[m.Addr] == "" {
			h = nil
		}
		if h != nil {
			if msg := h.apply(pm); msg != "" {
				keyErrs = append(keyErrs, msg)
			} else if h.err != nil {
				b.sink.Warning(pm.Addr, pm.Reason)
			}
		}
		planned = append(planned, pm)
	}
	if len(keyErrs) > 0 {
		return &HostKeyError{Messages: keyErrs}
	}
	if err := b.locateGiven(ctx, planned, reads, pendingTarget, stopped); err != nil { // build.go
		return err
	}
	// Installs (install.go): the facts of the hosts to install, read at
	// once.
	installErrs := make([]error, len(planned))
	var iwg sync.WaitGroup
	for i, pm := range planned {
		m := cfg.MachineByName(pm.Name)
		if !b.installNeeded(m, b.st.Machines[pm.Addr]) || pendingTarget[pm.Addr] != "" || stopped[pm.Addr] != "" {
			continue
		}
		iwg.Add(1)
		go func() {
			defer iwg.Done()
			installErrs[i] = b.planInstall(ctx, pm, m, evaluated[pm.Name], b.st.Machines[pm.Addr])
		}()
	}
	iwg.Wait()
	if err := errors.Join(installErrs...); err != nil {
		return err
	}
	var wg sync.WaitGroup
	for _, pm := range planned {
		wg.Add(1)
		go func() {
			defer wg.Done()
			b.machineDiff(ctx, pm)
		}()
	}
	wg.Wait()
	policy := b.opts.Reboot
	for _, pm := range planned {
		if pm.Install != nil {
			continue // planned by planInstall
		}
		h := read[pm.Addr]
		profile, profileRead := "", false
		if h != nil && h.err == nil && h.facts.ProfileKnown {
			profile, profileRead = h.facts.Profile.Path, true
		}
		pm.Action = machineAction(pm, profile, profileRead)
		if why := pendingTarget[pm.Addr]; why != "" {
			// A new host, or the same machine at a new endpoint: what it
			// runs is not known, so it is deployed.
			pm.Action, pm.Reason = plan.Deploy, why
		}
		if pm.CurrentRead && pm.Current == "" {
			// The host runs no system yet: there is nothing a watchdog
			// could switch back to.
			pm.MagicRollback, pm.ConfirmTimeout = false, ""
		}
		if pm.Action == plan.Noop {
			switch rec := b.st.Machines[pm.Addr]; {
			case b.replace[pm.Addr]:
				pm.Action, pm.Reason = plan.Deploy, "requested with --replace: redeployed although up to date"
			case pm.AlwaysActivate:
				pm.Action, pm.Reason = plan.Deploy, "deployment.alwaysActivate: activated although its system is unchanged"
			case rec.Unverified():
				pm.Action, pm.Reason = plan.Deploy, "the last deploy did not finish verified ("+rec.StatusReason+"): deployed again"
			case pm.Pending != "":
				pm.Action, pm.Reason = plan.Deploy, "deployed again, which settles the unconfirmed switch"
			case h != nil && h.err == nil:
				if st := Judge(rec, h.facts); st.Drift {
					pm.Action, pm.Reason = plan.Deploy, "drift: "+st.Problem()+": deployed again to record and verify it"
				}
			}
		}
		if pm.Action == plan.Noop && keysChanged(pm.Keys) {
			pm.Action = plan.UploadKeys
			pm.Reason = "the system is unchanged; keys change"
		}
		if why := stopped[pm.Addr]; why != "" && pm.Action != plan.Noop && pm.Install == nil {
			pm.Action, pm.Reason = plan.Stopped, why
			pm.Reboot = nil
			continue
		}
		planReboot(pm, policy, boots, read)
	}
	p.Machines = append(p.Machines, planned...)
	b.pinRoots(ctx, p) // gcroots.go: GC roots for the derivations apply builds
	return nil
}

// hostStopped says why the host of machine name is down on purpose: its
// target is the cloud instance res whose "state" attribute, as this plan
// refreshed and planned it, is stopped or stopping (`ferry stop`, or the
// cloud's console; an instance created or replaced here has no known
// state); "" else.
func (b *planner) hostStopped(res, name string) string {
	if res == "" || b.values == nil {
		return ""
	}
	v, known, err := b.values.Lookup(spec.Ref{Addr: res, Attr: "state"})
	s, _ := v.(string)
	if err != nil || !known || (s != "stopped" && s != "stopping") {
		return ""
	}
	return fmt.Sprintf("its host %s is %s: apply leaves the machine alone; run `ferry start --on %s` to start it, then plan again", res, s, name)
}

// configTags are the tags the configuration gives a machine.
func configTags(m *spec.Machine) ([]string, bool) { return m.Tags, true }

// tagMatches is m, nil when empty.
func tagMatches(m map[string][]string) map[string][]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

// selectByNixTags selects, among names (evaluated in one pass, and
// fromNix among them), the machines --on and --exclude select now that
// the tags of those without tags in the configuration are known (their
// deployment.tags), and records in p which machines each tag pattern
// matched. A machine whose evaluation was deferred has no known tags: no
// tag pattern matches it, and the plan warns.
func (b *planner) selectByNixTags(p *plan.Plan, names, fromNix []string, evaluated map[string]nix.Evaluated) ([]string, []string, error) {
	tagsOf := func(m *spec.Machine) ([]string, bool) {
		if len(m.Tags) > 0 {
			return m.Tags, true
		}
		if ev, ok := evaluated[m.Name]; ok && ev.Deployment != nil {
			return ev.Deployment.Tags, true
		}
		return nil, true
	}
	for _, name := range names {
		if m := b.cfg.MachineByName(name); len(m.Tags) == 0 {
			if _, ok := evaluated[name]; !ok {
				b.sink.Warning(m.Addr, "its deployment.tags are not known: it is not evaluated in this plan (deferred), so no @tag selects it by them")
			}
		}
	}
	final, err := SelectTags(b.cfg, b.opts.On, b.opts.Exclude, tagsOf)
	if err != nil {
		return nil, nil, err
	}
	p.TagMatches = tagMatches(TagMatches(b.cfg.Machines, b.opts.On, b.opts.Exclude, tagsOf))
	keep := map[string]bool{}
	for _, m := range final {
		keep[m.Name] = true
	}
	filter := func(l []string) []string {
		return slices.DeleteFunc(slices.Clone(l), func(n string) bool { return !keep[n] })
	}
	return filter(names), filter(fromNix), nil
}

// machineDeps are the dependencies of the machine at addr, as configured,
// else as state recorded them.
func (b *planner) machineDeps(addr string, rec *state.Machine) []string {
	if d, configured := b.deps[addr]; configured && b.configured(addr) {
		return d
	}
	if rec != nil {
		return rec.Deps
	}
	return nil
}

// evaluate evaluates the machines of names that are not deferred, in one
// Nix pass. A machine whose evaluation uses a value known only after
// apply (a resource attribute through `resources`, another machine's
// config through `nodes`) is deferred too, and the others are evaluated
// without it.
func (b *planner) evaluate(ctx context.Context, p *plan.Plan, machines []nix.Machine, names []string, deferred map[string]string) (map[string]nix.Evaluated, error) {
	out := map[string]nix.Evaluated{}
	todo := func() []string {
		var l []string
		for _, n := range names {
			if _, done := out[n]; !done && deferred[n] == "" {
				l = append(l, n)
			}
		}
		return l
	}
	toEval := todo()
	if len(toEval) == 0 {
		return out, nil
	}
	b.sink.Progress("", 0, fmt.Sprintf("evaluating %s in one pass", spec.Count(len(toEval), "machine")))
	evalStart := time.Now()
	resources := b.values.Attrs()
	addrs := make(map[string]string, len(b.cfg.Machines)) // for Nix's log lines, by machine name
	for _, m := range b.cfg.Machines {
		addrs[m.Name] = m.Addr
	}
	for len(toEval) > 0 {
		res, err := b.pl.Nix.Evaluate(ctx, nix.EvalOptions{
			Nixpkgs:      b.cfg.Nixpkgs,
			NixpkgsFlake: nixFlakeInput(b.cfg.NixpkgsFlake),
			Machines:     machines,
			Resources:    resources,
			Names:        toEval,
			MemoryBudget: b.opts.EvalMemory,
			ShowTrace:    b.opts.ShowTrace,
			OnPass: func(pass nix.EvalPass) {
				if b.opts.EvalMemory > 0 {
					b.sink.Progress("", pass.Duration, fmt.Sprintf("evaluation pass: %s, peak %s", spec.Count(pass.Evaluated, "machine"), mib(pass.MaxRSS)))
				}
			},
			OnLog: func(ev nix.LogEvent) {
				b.sink.Nix(addrs[ev.Machine], ev) // "" for a line of no machine
			},
		})
		for n, ev := range res {
			out[n] = ev
		}
		if err == nil {
			break
		}
		var me *nix.MachineError
		if errors.As(err, &me) {
			if errors.Is(err, nix.ErrKnownAfterApply) && slices.Contains(toEval, me.Machine) {
				deferred[me.Machine] = b.systemUsesUnknown(me.Message, p)
				toEval = todo()
				continue
			}
			if m := b.cfg.MachineByName(me.Machine); m != nil {
				return nil, spec.Errorf(m.Pos, err.Error())
			}
		}
		return nil, err
	}
	b.sink.Progress("", time.Since(evalStart), fmt.Sprintf("evaluated %s", spec.Count(len(out), "machine")))
	return out, nil
}

// unknownValueRE finds the reference in the message of the throw that
// stands for a value known only after apply (providers/nix).
var unknownValueRE = regexp.MustCompile(`the value of (\S+) is known only after apply`)

// systemUsesUnknown is why a machine whose evaluation used a value known
// only after apply is deferred.
func (b *planner) systemUsesUnknown(msg string, p *plan.Plan) string {
	if g := unknownValueRE.FindStringSubmatch(msg); g != nil {
		if addr, attr, ok := spec.SplitAttr(g[1]); ok {
			return "its system uses " + b.knownAfterApply([]spec.Ref{{Addr: addr, Attr: attr}}, p)
		}
	}
	return "its system uses a value known only after apply: " + firstLine(msg)
}

// deferDependents defers every machine of names deployed after a deferred
// one (depends_on), until none is left.
func (b *planner) deferDependents(names []string, deferred map[string]string) {
	for changed := true; changed; {
		changed = false
		for _, name := range names {
			if deferred[name] != "" {
				continue
			}
			for _, d := range b.deps[spec.MachineAddr(name)] {
				dn, isMachine := strings.CutPrefix(d, "machine.")
				if isMachine && deferred[dn] != "" {
					deferred[name] = "it is deployed after " + d + ", which is deferred"
					changed = true
					break
				}
			}
		}
	}
}

// checkDeferredDependents refuses a plan in which a resource that is
// created, updated or replaced depends on a deferred machine: it would run
// before the machine exists.
func (b *planner) checkDeferredDependents(p *plan.Plan, deferred map[string]string) error {
	for _, r := range p.Resources {
		switch r.Action {
		case plan.Create, plan.Update, plan.Replace, plan.Import:
		default:
			continue
		}
		for _, d := range r.Deps {
			name, isMachine := strings.CutPrefix(d, "machine.")
			if why := deferred[name]; isMachine && why != "" {
				return fmt.Errorf("%s depends on %s, which cannot be deployed in this plan (%s), so it cannot be ordered after it; first apply what %s waits for, e.g. `ferry apply --target ADDR` for the resources named, then plan again", r.Addr, d, why, d)
			}
		}
	}
	return nil
}

// knownAfterApply names refs, values known only after apply, with why:
// "fake.host.web.id, known only after apply (fake.host.web will be
// created)".
func (b *planner) knownAfterApply(refs []spec.Ref, p *plan.Plan) string {
	var names []string
	seen := map[string]bool{}
	for _, r := range refs {
		if s := r.String(); !seen[s] {
			seen[s] = true
			names = append(names, s)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ") + ", " + b.knownAfterApplyOf(refs, p)
}

// knownAfterApplyOf says why the resources of refs are known only after
// apply: "known only after apply (fake.host.web will be created)".
func (b *planner) knownAfterApplyOf(refs []spec.Ref, p *plan.Plan) string {
	var why []string
	seen := map[string]bool{}
	for _, r := range refs {
		if seen[r.Addr] {
			continue
		}
		seen[r.Addr] = true
		var rc *plan.Resource
		if p != nil {
			// p is not sorted yet (Normalize): no Plan.Resource.
			for _, x := range p.Resources {
				if x.Addr == r.Addr {
					rc = x
				}
			}
		}
		verb := map[plan.Action]string{plan.Create: "will be created", plan.Replace: "will be replaced", plan.Update: "will be updated", plan.Import: "will be imported"}
		if rc != nil && verb[rc.Action] != "" {
			why = append(why, r.Addr+" "+verb[rc.Action])
		}
	}
	if len(why) == 0 {
		return "known only after apply"
	}
	sort.Strings(why)
	return "known only after apply (" + strings.Join(why, ", ") + ")"
}

// nixTargets sets the targets of the machines in names, which take theirs
// from their modules (spec.Target.FromNix), from what evaluation reported,
// and starts reading those hosts (with --refresh); the function returned
// waits for the reads.
func (b *planner) nixTargets(ctx context.Context, names []string, evaluated map[string]nix.Evaluated, deferred map[string]string, targets map[string]plan.Target) (func() map[string]*hostRead, error) {
	reads := map[string]remote.Target{}
	for _, name := range names {
		ev, ok := evaluated[name]
		if !ok || deferred[name] != "" {
			continue
		}
		m := b.cfg.MachineByName(name)
		t, err := NixTarget(name, ev.Deployment, b.pl.SSHConfig)
		if err != nil {
			return nil, spec.Errorf(m.Pos, fmt.Sprintf("machine %s: target from its deployment options: %v", m.Name, err))
		}
		if rec := b.st.Machines[m.Addr]; rec != nil && rec.HostKey != "" && rec.Target == t.String() {
			t.HostKey = rec.HostKey
		}
		targets[m.Addr] = t
		ep, err := b.pl.drivers().Driver(t.Kind)
		if err == nil {
			reads[m.Addr], err = ep.Endpoint(ctx, target.Env{SSH: b.pl.SSH}, t)
		}
		if err != nil {
			return nil, spec.Errorf(m.Pos, fmt.Sprintf("machine %s: target from %s: %v", m.Name, t.From, err))
		}
	}
	if !b.opts.Refresh || len(reads) == 0 {
		return func() map[string]*hostRead { return nil }, nil
	}
	return b.readHosts(ctx, reads), nil
}

// planTarget resolves m's target as far as the plan knows its references
// (planned values, state): the known ones are checked; unknown lists those
// left for apply. A fully known target gets the host key ferry pins: the
// configured one, else the one state pinned for the same user@host:port
// (else trust on first use, by readHosts). One with unknowns keeps only a
// configured key: the host is new.
func (b *planner) planTarget(m *spec.Machine) (plan.Target, []string, error) {
	var refErr error
	t, unknown, err := resolveTargetRefs(ResolveTarget(m.Target), func(ref spec.Ref) (any, bool) {
		v, ok, err := b.values.Lookup(ref)
		if err != nil && refErr == nil {
			refErr = err
		}
		return v, ok
	})
	if err == nil {
		err = refErr
	}
	if err != nil {
		return t, nil, spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: %v", m.Name, err))
	}
	if _, err := b.pl.drivers().Driver(t.Kind); err != nil {
		return t, nil, spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: %v", m.Name, err))
	}
	if len(unknown) == 0 && t.HostKey == "" {
		if rec := b.st.Machines[m.Addr]; rec != nil && rec.HostKey != "" && rec.Target == t.String() {
			t.HostKey = rec.HostKey
		}
	}
	return t, unknown, nil
}

// planReboot records whether pm's new system needs a reboot (its kernel,
// initrd or kernel modules differ from the booted system's) and whether
// apply reboots. A reboot activates with boot first, so it applies to
// switch and boot only.
func planReboot(pm *plan.Machine, policy string, boots map[string]remote.BootFiles, read map[string]*hostRead) {
	if (pm.Action != plan.Deploy && pm.Action != plan.Noop) || pm.Activate == "test" || pm.Activate == "dry-activate" {
		return
	}
	r := &plan.Reboot{}
	next, evaluated := boots[pm.Addr]
	got := read[pm.Addr]
	switch {
	case !evaluated:
		r.Unknown = "nixpkgs gives no kernel, initrd or kernel modules for this system"
	case got == nil:
		r.Unknown = "the host's booted system was not read"
	case got.err != nil:
		r.Unknown = "could not read the host's booted system: " + got.err.Error()
	case !got.facts.BootedKnown:
		r.Unknown = "the host has no /run/booted-system"
	default:
		r.Reasons = got.facts.Booted.Changes(next)
		r.Needed = len(r.Reasons) > 0
	}
	if pm.Action == plan.Noop {
		// Up to date, but maybe not booted into its kernel (switched with
		// --reboot never earlier): if-needed reboots it now.
		if !r.Needed {
			return
		}
		if policy == RebootIfNeeded {
			pm.Action = plan.Deploy
			pm.Reason = "the host runs this system but booted another kernel, initrd or kernel modules"
		}
	}
	r.Will = pm.Action == plan.Deploy && (policy == RebootAlways || (policy == RebootIfNeeded && r.Needed))
	if r.Will {
		// The new system is made the boot default and booted; no watchdog
		// can span a reboot.
		pm.Activate = "boot"
		pm.MagicRollback, pm.ConfirmTimeout = false, ""
	}
	if r.Needed || r.Will || (r.Unknown != "" && policy != RebootNever) {
		pm.Reboot = r
	}
}

// planSafety copies m's keys, checks and rollback settings into pm.
func planSafety(pm *plan.Machine, m *spec.Machine, rec *state.Machine, planKey []byte) error {
	keys, err := planKeys(m, rec, planKey)
	if err != nil {
		return err
	}
	pm.Keys = keys
	pm.Checks = CheckSpecs(m.Checks)
	if m.MagicRollback && (pm.Activate == "switch" || pm.Activate == "test") {
		pm.MagicRollback = true
		pm.ConfirmTimeout = m.ConfirmTimeout.String()
	}
	pm.RollbackOnFailure = m.RollbackOnFailure
	return nil
}

// machineAction decides whether pm is deployed. test and dry-activate
// always run. boot is done when the system profile (what the host boots)
// already points to the system; switch when the host also runs it, since
// a system activated with test runs without being in the profile. Without
// the profile, the running system decides; without either, state does.
func machineAction(pm *plan.Machine, profile string, profileRead bool) plan.Action {
	switch {
	case pm.Activate == "dry-activate" || pm.Activate == "test":
		return plan.Deploy
	case pm.CurrentRead && profileRead && pm.Activate == "boot":
		if profile == pm.Path {
			return plan.Noop
		}
		return plan.Deploy
	case pm.CurrentRead && pm.Current != pm.Path:
		return plan.Deploy
	case pm.CurrentRead && profileRead && profile != pm.Path:
		pm.Reason = fmt.Sprintf("the host runs this system, but its system profile points to %s (was it activated with test?): %s sets the profile", orNone(profile), pm.Activate)
		return plan.Deploy
	case pm.CurrentRead:
		return plan.Noop
	case pm.Current == "" && pm.Previous == pm.Path && pm.Reason == "":
		return plan.Noop
	}
	return plan.Deploy
}

// machineDiff computes the package-level difference from the previously
// deployed derivation, without building, under the package-diff limit.
func (b *planner) machineDiff(ctx context.Context, pm *plan.Machine) {
	rec := b.st.Machines[pm.Addr]
	if rec == nil || rec.Drv == "" || pm.Drv == "" || rec.Drv == pm.Drv {
		return
	}
	release, err := acquire(ctx, b.diffs)
	if err != nil {
		return // interrupted: the plan fails on ctx anyway
	}
	defer release()
	d, err := b.pl.Nix.PackageDiff(ctx, rec.Drv, pm.Drv)
	if err != nil || d.Empty() {
		return
	}
	conv := func(ps []nix.Package) []plan.Package {
		out := make([]plan.Package, len(ps))
		for i, p := range ps {
			out[i] = plan.Package{Name: p.Name, Version: p.Version, OldVersion: p.OldVersion}
		}
		return out
	}
	pm.Packages = &plan.PackageDiff{Added: conv(d.Added), Removed: conv(d.Removed), Changed: conv(d.Changed)}
}
