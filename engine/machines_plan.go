package engine

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

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/target"
	"github.com/nixferry/ferry/graph"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Activation actions (switch-to-configuration's).
var activations = map[string]bool{"switch": true, "boot": true, "test": true, "dry-activate": true}

// planMachines evaluates every machine in one Nix pass, reads each host's
// current system, and plans a deploy for each machine whose system differs.
// A machine whose system depends on a value known only after apply is
// deferred (unknown module args here, evaluate, deferDependents); one whose
// target is known only after apply is deployed without reading its host
// (target_resolve.go).
func (b *planBuilder) planMachines(ctx context.Context, p *plan.Plan) error {
	cfg := b.cfg
	activate := b.po.Activate
	selected, err := SelectMachines(cfg, b.opts.On, b.opts.Exclude)
	if err != nil {
		return err
	}
	sel := map[string]bool{}
	for _, m := range selected {
		if b.inScope(m.Addr) {
			sel[m.Name] = true
		}
	}
	p.Nixpkgs = cfg.Nixpkgs
	if b.opts.Destroy {
		// ferry created none of these hosts: destroying forgets them and
		// leaves each host running what it runs. Each is forgotten before
		// the resources it depends on are deleted (edges.go).
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

	machines := make([]nix.Machine, 0, len(cfg.Machines))
	unknownArgs := map[string][]spec.Ref{} // by machine name: module args known only after apply
	for _, m := range cfg.Machines {
		nm := nix.Machine{Name: m.Name}
		for _, mod := range m.Modules {
			var refErr error
			args, _ := spec.Resolve(mod.Args, func(ref spec.Ref) (any, bool) {
				v, ok, err := b.lookup(ref)
				if err != nil && refErr == nil {
					refErr = err
				}
				if !ok && err == nil {
					unknownArgs[m.Name] = append(unknownArgs[m.Name], ref)
				}
				return v, ok
			}).(map[string]any)
			if refErr != nil {
				return spec.Errorf(mod.Pos, fmt.Sprintf("machine %s: %v", m.Name, refErr))
			}
			nm.Modules = append(nm.Modules, nix.Module{Path: mod.Path, Inline: mod.Inline, Args: args})
		}
		machines = append(machines, nm)
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
	reads := map[string]remote.Target{}
	for _, name := range names {
		m := cfg.MachineByName(name)
		t, unknown, err := b.planTarget(m)
		if err != nil {
			return err
		}
		targets[m.Addr] = t
		switch {
		case deferred[name] != "":
		case len(unknown) > 0:
			pendingTarget[m.Addr] = "the host is " + b.knownAfterApplyOf(targetRefs(m.Target), p) +
				": it is not read now; apply connects once it exists and deploys it"
		default:
			ep, err := b.e.drivers().Driver(t.Kind)
			if err != nil {
				return spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: %v", m.Name, err))
			}
			if reads[m.Addr], err = ep.Endpoint(ctx, target.Env{SSH: b.e.SSH}, t); err != nil {
				return spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: target: %v", m.Name, err))
			}
		}
	}
	var hosts func() map[string]*hostRead
	if !b.opts.NoRefresh {
		hosts = b.readHosts(ctx, reads)
	}
	evaluated, err := b.evaluate(ctx, p, machines, names, deferred)
	if err != nil {
		return err
	}
	b.deferDependents(names, deferred)
	if err := b.checkDeferredDependents(p, deferred); err != nil {
		return err
	}

	var read map[string]*hostRead
	if hosts != nil {
		read = hosts()
	}
	planned := make([]*plan.Machine, 0, len(names))
	boots := map[string]remote.BootFiles{}
	var keyErrs []string
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
		}
		if rec != nil {
			pm.Previous = rec.Path
		}
		keysAgainst := rec
		if pendingTarget[m.Addr] != "" {
			keysAgainst = nil // a new host: it has none of the keys
		}
		if err := planSafety(pm, m, keysAgainst, b.planKey); err != nil {
			return err
		}
		if ev.Boot != nil {
			boots[m.Addr] = remote.BootFiles{Kernel: ev.Boot.Kernel, Initrd: ev.Boot.Initrd, Modules: ev.Boot.Modules}
		}
		if h := read[m.Addr]; h != nil {
			if msg := h.apply(pm); msg != "" {
				keyErrs = append(keyErrs, msg)
			} else if h.err != nil {
				b.e.emit(Event{Kind: EventWarning, Addr: pm.Addr, Message: pm.Reason})
			}
		}
		planned = append(planned, pm)
	}
	if len(keyErrs) > 0 {
		return &HostKeyError{Messages: keyErrs}
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
	policy := b.po.Reboot
	for _, pm := range planned {
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
			case rec.Unverified():
				pm.Action, pm.Reason = plan.Deploy, "the last deploy did not finish verified ("+rec.StatusReason+"): deployed again"
			case pm.Pending != "":
				pm.Action, pm.Reason = plan.Deploy, "deployed again, which settles the unconfirmed switch"
			case h != nil && h.err == nil:
				if st := JudgeMachine(rec, h.facts); st.Drift {
					pm.Action, pm.Reason = plan.Deploy, "drift: "+st.Problem()+": deployed again to record and verify it"
				}
			}
		}
		if pm.Action == plan.Noop && keysChanged(pm.Keys) {
			pm.Action = plan.UploadKeys
			pm.Reason = "the system is unchanged; keys change"
		}
		planReboot(pm, policy, boots, read)
	}
	p.Machines = append(p.Machines, planned...)
	b.pinRoots(ctx, p) // gcroots.go: GC roots for the derivations apply builds
	return nil
}

// machineDeps are the dependencies of the machine at addr, as configured,
// else as state recorded them.
func (b *planBuilder) machineDeps(addr string, rec *state.Machine) []string {
	if d, configured := b.deps[addr]; configured && b.configuredMachine(addr) {
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
func (b *planBuilder) evaluate(ctx context.Context, p *plan.Plan, machines []nix.Machine, names []string, deferred map[string]string) (map[string]nix.Evaluated, error) {
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
	b.e.emit(Event{Kind: EventProgress, Message: fmt.Sprintf("evaluating %d machine(s) in one pass", len(toEval))})
	evalStart := time.Now()
	for len(toEval) > 0 {
		res, err := b.e.Nix.Evaluate(ctx, nix.EvalOptions{
			Nixpkgs:      b.cfg.Nixpkgs,
			Machines:     machines,
			Resources:    b.nixResources(),
			Names:        toEval,
			MemoryBudget: b.opts.EvalMemory,
			ShowTrace:    b.opts.ShowTrace,
			OnPass: func(pass nix.EvalPass) {
				if b.opts.EvalMemory > 0 {
					b.e.emit(Event{Kind: EventProgress, Duration: pass.Duration, Message: fmt.Sprintf("evaluation pass: %d machine(s), peak %s", pass.Evaluated, mib(pass.MaxRSS))})
				}
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
	b.e.emit(Event{Kind: EventProgress, Duration: time.Since(evalStart), Message: fmt.Sprintf("evaluated %d machine(s)", len(out))})
	return out, nil
}

// unknownValueRE finds the reference in the message of the throw that
// stands for a value known only after apply (providers/nix).
var unknownValueRE = regexp.MustCompile(`the value of (\S+) is known only after apply`)

// systemUsesUnknown is why a machine whose evaluation used a value known
// only after apply is deferred.
func (b *planBuilder) systemUsesUnknown(msg string, p *plan.Plan) string {
	if g := unknownValueRE.FindStringSubmatch(msg); g != nil {
		if addr, attr, ok := spec.SplitAttr(g[1]); ok {
			return "its system uses " + b.knownAfterApply([]spec.Ref{{Addr: addr, Attr: attr}}, p)
		}
	}
	return "its system uses a value known only after apply: " + firstLine(msg)
}

// deferDependents defers every machine of names deployed after a deferred
// one (depends_on), until none is left.
func (b *planBuilder) deferDependents(names []string, deferred map[string]string) {
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
func (b *planBuilder) checkDeferredDependents(p *plan.Plan, deferred map[string]string) error {
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
func (b *planBuilder) knownAfterApply(refs []spec.Ref, p *plan.Plan) string {
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
func (b *planBuilder) knownAfterApplyOf(refs []spec.Ref, p *plan.Plan) string {
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

// planTarget resolves m's target as far as the plan knows its references
// (planned values, state): the known ones are checked; unknown lists those
// left for apply. A fully known target gets the host key ferry pins: the
// configured one, else the one state pinned for the same user@host:port
// (else trust on first use, by readHosts). One with unknowns keeps only a
// configured key: the host is new.
func (b *planBuilder) planTarget(m *spec.Machine) (plan.Target, []string, error) {
	var refErr error
	t, unknown, err := resolveTargetRefs(ResolveTarget(m.Target), func(ref spec.Ref) (any, bool) {
		v, ok, err := b.lookup(ref)
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
	if _, err := b.e.drivers().Driver(t.Kind); err != nil {
		return t, nil, spec.Errorf(m.Target.Pos, fmt.Sprintf("machine %s: %v", m.Name, err))
	}
	if len(unknown) == 0 && t.HostKey == "" {
		if rec := b.st.Machines[m.Addr]; rec != nil && rec.HostKey != "" && rec.Target == t.String() {
			t.HostKey = rec.HostKey
		}
	}
	return t, unknown, nil
}

// Reboot policies (--reboot).
const (
	RebootNever    = "never"
	RebootIfNeeded = "if-needed"
	RebootAlways   = "always"
)

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

// planRollout splits the machines to deploy that the rollout covers into
// batches and numbers each machine's batch. Machines are ordered by their
// depth in the plan's execution edges, then by address, so that a machine
// never lands in a batch before one it depends on (its gate would wait for
// it: a cycle); a dependency and its dependent may share a batch.
func planRollout(ro *spec.Rollout, p *plan.Plan) *plan.Rollout {
	if ro == nil {
		return nil
	}
	g := graph.New[string]()
	for _, e := range p.Edges {
		g.Connect(e[0], e[1])
	}
	depth := map[string]int{}
	if order, err := g.TopoOrder(); err == nil {
		for _, n := range order {
			for _, pred := range g.Pred(n) {
				depth[n] = max(depth[n], depth[pred]+1)
			}
		}
	}
	var in []*plan.Machine
	for _, pm := range p.Machines {
		if pm.Action == plan.Deploy && (len(ro.Tags) == 0 || hasAnyTag(pm.Tags, ro.Tags)) {
			in = append(in, pm)
		}
	}
	sort.SliceStable(in, func(i, j int) bool {
		if depth[in[i].Addr] != depth[in[j].Addr] {
			return depth[in[i].Addr] < depth[in[j].Addr]
		}
		return in[i].Addr < in[j].Addr
	})
	size := ro.Batch
	if ro.BatchPercent > 0 {
		size = (len(in)*ro.BatchPercent + 99) / 100
	}
	size = max(size, 1)
	out := &plan.Rollout{Batch: ro.Batch, BatchPercent: ro.BatchPercent, MaxFailures: ro.MaxFailures, Tags: ro.Tags,
		Batches: [][]string{}, DeclaredAt: ro.Pos.String()}
	if ro.Pause > 0 {
		out.Pause = ro.Pause.String()
	}
	for i := 0; i < len(in); i += size {
		var batch []string
		for _, pm := range in[i:min(i+size, len(in))] {
			pm.Batch = len(out.Batches) + 1
			batch = append(batch, pm.Addr)
		}
		out.Batches = append(out.Batches, batch)
	}
	return out
}

func hasAnyTag(tags, want []string) bool {
	for _, t := range tags {
		for _, w := range want {
			if t == w {
				return true
			}
		}
	}
	return false
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

// ResolveTarget is how a configured target is reached: its defaults (port
// 22, user root) filled in. Plan, apply and every day-2 command use it.
// Arguments known only after apply stay in Refs (copied), their fields
// zero: resolveTargetRefs (plan, apply) or MachineTarget (day-2 commands,
// from state) resolves them.
func ResolveTarget(t spec.Target) plan.Target {
	out := plan.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if t.Kind != "" && t.Kind != target.KindSSH {
		out.Kind = t.Kind
	}
	if len(t.Refs) > 0 {
		out.Refs = spec.CloneMap(t.Refs)
	}
	if _, ref := t.Refs["port"]; out.Port == 0 && !ref {
		out.Port = 22
	}
	if _, ref := t.Refs["user"]; out.User == "" && !ref {
		out.User = "root"
	}
	if t.Jump != nil {
		j := ResolveTarget(*t.Jump)
		out.Jump = &j
	}
	return out
}

// RemoteTarget converts a plan target for the SSH layer.
func RemoteTarget(t plan.Target) remote.Target {
	out := remote.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if t.Jump != nil {
		j := RemoteTarget(*t.Jump)
		out.Jump = &j
	}
	return out
}

// hostRead is what plan learned from one host: its facts, or why it could
// not read them.
type hostRead struct {
	facts   remote.HostFacts
	hostKey string // the key the host presented
	err     error
}

// readHosts starts reading every host in the background, one connection
// and one round trip (remote.Probe) each, and returns a function that
// waits for the reads. A host that cannot be reached is planned anyway,
// with the reason; apply reports it as failed and goes on with the others.
// A host presenting another key than the pinned one fails the plan.
func (b *planBuilder) readHosts(ctx context.Context, targets map[string]remote.Target) func() map[string]*hostRead {
	out := make(map[string]*hostRead, len(targets))
	if b.e.SSH == nil {
		return func() map[string]*hostRead { return out }
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(LimitHostReads)
	for addr, t := range targets {
		g.Go(func() error {
			h := &hostRead{}
			conn, err := b.e.SSH.Dial(gctx, t)
			if err == nil {
				h.hostKey = conn.HostKey()
				h.facts, err = remote.Probe(gctx, conn)
			}
			h.err = err
			mu.Lock()
			out[addr] = h
			mu.Unlock()
			return nil
		})
	}
	return func() map[string]*hostRead {
		_ = g.Wait()
		return out
	}
}

// apply records what the host said in pm. It returns the message for a
// host key that differs from the pinned one (the plan then fails).
func (h *hostRead) apply(pm *plan.Machine) string {
	var mismatch *remote.HostKeyMismatchError
	switch {
	case errors.As(h.err, &mismatch):
		want, got := mismatch.Fingerprints()
		return fmt.Sprintf("%s (%s): the host presented key %s, but ferry pinned %s; if the host was reinstalled, check the new fingerprint out of band and run `ferry host-key pin %s`; otherwise someone may be intercepting the connection",
			pm.Addr, mismatch.Host, got, want, pm.Addr)
	case h.err != nil:
		pm.Reason = "host not reachable at plan time: " + h.err.Error()
		return ""
	}
	if pm.Target.HostKey == "" {
		pm.Target.HostKey = h.hostKey // trust on first use: apply enforces this key
	}
	pm.Current, pm.CurrentRead = h.facts.Current, true
	for _, w := range h.facts.PendingWatchdogs {
		if w.Alive {
			pm.Pending = w.String()
			break
		}
	}
	return ""
}

// HostKeyError fails a plan when hosts present other keys than the pinned
// ones.
type HostKeyError struct{ Messages []string }

func (e *HostKeyError) Error() string {
	if len(e.Messages) == 1 {
		return "host key changed: " + e.Messages[0]
	}
	return "host keys changed:\n  " + strings.Join(e.Messages, "\n  ")
}

// PinnedHostKey is the host key ferry holds a machine to: the configured
// host_key, else the key pinned in state when the state's record is for
// the same user@host:port (a key recorded for another address belongs to
// another host); "" means trust on first use.
func PinnedHostKey(t spec.Target, rec *state.Machine) string {
	if _, ref := t.Refs["host_key"]; ref {
		return "" // configured as a reference: MachineTarget resolves it
	}
	return pinnedKey(ResolveTarget(t), rec)
}

// pinnedKey is the key ferry holds the resolved target t to: its own
// (configured) key, else the key state pinned for the same user@host:port.
func pinnedKey(t plan.Target, rec *state.Machine) string {
	if t.HostKey != "" {
		return t.HostKey
	}
	if rec != nil && rec.HostKey != "" && rec.Target == t.String() {
		return rec.HostKey
	}
	return ""
}

// machineDiff computes the package-level difference from the previously
// deployed derivation, without building.
func (b *planBuilder) machineDiff(ctx context.Context, pm *plan.Machine) {
	rec := b.st.Machines[pm.Addr]
	if rec == nil || rec.Drv == "" || rec.Drv == pm.Drv {
		return
	}
	d, err := b.e.Nix.PackageDiff(ctx, rec.Drv, pm.Drv)
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

// nixResources is the `resources` module argument: every resource's
// attributes by address, unknown ones marked so that Nix fails only a
// machine that uses them.
func (b *planBuilder) nixResources() map[string]any {
	out := map[string]any{}
	for addr, attrs := range b.planned {
		out[addr] = attrs
	}
	for addr, rec := range b.st.Resources {
		if _, ok := out[addr]; !ok {
			out[addr] = rec.Attrs
		}
	}
	return out
}

// machineRecord is what apply records after deploying pm.
func machineRecord(pm *plan.Machine, hostKey string, prev *state.Machine) *state.Machine {
	rec := &state.Machine{Target: pm.Target.String(), HostKey: hostKey, DeclaredAt: pm.DeclaredAt,
		Keys: map[string]string{}, Deps: pm.Deps}
	if prev != nil {
		rec.Drv, rec.Path, rec.Activation, rec.Generation, rec.DeployedAt = prev.Drv, prev.Path, prev.Activation, prev.Generation, prev.DeployedAt
		rec.LastRollback, rec.BootID = prev.LastRollback, prev.BootID
		rec.Status, rec.StatusReason, rec.StatusAt = prev.Status, prev.StatusReason, prev.StatusAt
		// Keys no longer configured are forgotten (and left on the host,
		// as NixOps does): only configured destinations stay.
		for _, k := range pm.Keys {
			if h, ok := prev.Keys[k.Dest]; ok {
				rec.Keys[k.Dest] = h
			}
		}
	}
	return rec
}
