package engine

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/graph"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// Activation actions (switch-to-configuration's).
var activations = map[string]bool{"switch": true, "boot": true, "test": true, "dry-activate": true}

// selectMachines resolves --on NAME|@tag (empty: all).
func selectMachines(cfg *spec.Config, on []string) (map[string]bool, error) {
	sel := map[string]bool{}
	if len(on) == 0 {
		for _, m := range cfg.Machines {
			sel[m.Name] = true
		}
		return sel, nil
	}
	for _, o := range on {
		if tag, ok := strings.CutPrefix(o, "@"); ok {
			n := 0
			for _, m := range cfg.Machines {
				for _, t := range m.Tags {
					if t == tag {
						sel[m.Name] = true
						n++
					}
				}
			}
			if n == 0 {
				return nil, fmt.Errorf("--on %s: no machine has tag %q", o, tag)
			}
			continue
		}
		name := strings.TrimPrefix(o, "machine.")
		if cfg.MachineByName(name) == nil {
			return nil, fmt.Errorf("--on %s: no such machine in the configuration", o)
		}
		sel[name] = true
	}
	return sel, nil
}

// planMachines evaluates every machine in one Nix pass, reads each host's
// current system, and plans a deploy for each machine whose system differs.
func (b *planBuilder) planMachines(ctx context.Context, p *plan.Plan) error {
	cfg := b.cfg
	activate := b.opts.Activate
	if activate == "" {
		activate = "switch"
	}
	if !activations[activate] {
		return fmt.Errorf("--activate %s: want switch, boot, test or dry-activate", activate)
	}
	sel, err := selectMachines(cfg, b.opts.On)
	if err != nil {
		return err
	}
	if b.scope != nil {
		for name := range sel {
			if !b.scope[spec.MachineAddr(name)] {
				delete(sel, name)
			}
		}
	}
	p.Nixpkgs = cfg.Nixpkgs
	if b.opts.Destroy {
		return nil // machines are not destroyed: ferry leaves existing hosts alone
	}
	// Forget machines no longer configured.
	for addr, rec := range b.st.Machines {
		name := strings.TrimPrefix(addr, "machine.")
		if cfg.MachineByName(name) == nil && (b.scope == nil || b.scope[addr]) && len(b.opts.On) == 0 {
			p.Machines = append(p.Machines, &plan.Machine{Name: name, Addr: addr, Action: plan.Forget,
				Reason: "not in configuration (the host is left as it is)", Previous: rec.Path, DeclaredAt: rec.DeclaredAt})
		}
	}
	if len(sel) == 0 {
		return nil
	}

	machines := make([]nix.Machine, 0, len(cfg.Machines))
	deps := map[string][]string{}
	for _, m := range cfg.Machines {
		nm := nix.Machine{Name: m.Name}
		seen := map[string]bool{}
		for _, d := range m.DependsOn {
			seen[d] = true
		}
		for _, mod := range m.Modules {
			var refErr error
			args, _ := spec.Resolve(mod.Args, func(ref spec.Ref) (any, bool) {
				seen[ref.Addr] = true
				v, ok, err := b.lookup(ref)
				if err != nil && refErr == nil {
					refErr = err
				}
				return v, ok
			}).(map[string]any)
			if refErr != nil {
				return spec.Errorf(mod.Pos, fmt.Sprintf("machine %s: %v", m.Name, refErr))
			}
			nm.Modules = append(nm.Modules, nix.Module{Path: mod.Path, Inline: mod.Inline, Args: args})
		}
		for d := range seen {
			if d == m.Addr {
				continue
			}
			if cfg.ResourceByAddr(d) == nil && cfg.MachineByName(strings.TrimPrefix(d, "machine.")) == nil {
				return spec.Errorf(m.Pos, fmt.Sprintf("machine %s depends on %s, which is not declared", m.Name, d))
			}
			deps[m.Addr] = append(deps[m.Addr], d)
		}
		sort.Strings(deps[m.Addr])
		machines = append(machines, nm)
	}
	names := make([]string, 0, len(sel))
	for n := range sel {
		names = append(names, n)
	}
	sort.Strings(names)
	b.e.emit(Event{Kind: EventProgress, Message: fmt.Sprintf("evaluating %d machine(s) in one pass", len(names))})
	evalStart := time.Now()
	evaluated, err := b.e.Nix.Evaluate(ctx, nix.EvalOptions{
		Nixpkgs:      cfg.Nixpkgs,
		Machines:     machines,
		Resources:    b.nixResources(),
		Names:        names,
		MemoryBudget: b.opts.EvalMemory,
		ShowTrace:    b.opts.ShowTrace,
		OnPass: func(pass nix.EvalPass) {
			if b.opts.EvalMemory > 0 {
				b.e.emit(Event{Kind: EventProgress, Duration: pass.Duration, Message: fmt.Sprintf("evaluation pass: %d machine(s), peak %s", pass.Evaluated, mib(pass.MaxRSS))})
			}
		},
	})
	if err != nil {
		var me *nix.MachineError
		if errors.As(err, &me) {
			if m := cfg.MachineByName(me.Machine); m != nil {
				return spec.Errorf(m.Pos, err.Error())
			}
		}
		return err
	}
	b.e.emit(Event{Kind: EventProgress, Duration: time.Since(evalStart), Message: fmt.Sprintf("evaluated %d machine(s)", len(names))})

	planned := make([]*plan.Machine, 0, len(names))
	boots := map[string]remote.BootFiles{}
	for _, name := range names {
		m := cfg.MachineByName(name)
		ev := evaluated[name]
		pm := &plan.Machine{
			Name: name, Addr: m.Addr, Target: planTarget(m.Target),
			Drv: ev.DrvPath, Path: ev.OutPath, Activate: activate,
			BuildOnTarget: m.BuildOnTarget, Tags: m.Tags, Deps: deps[m.Addr], DeclaredAt: m.Pos.String(),
		}
		rec := b.st.Machines[m.Addr]
		if rec != nil {
			pm.Previous = rec.Path
			if pm.Target.HostKey == "" {
				pm.Target.HostKey = rec.HostKey
			}
		}
		if err := planSafety(pm, m, rec); err != nil {
			return err
		}
		if ev.Boot != nil {
			boots[m.Addr] = remote.BootFiles{Kernel: ev.Boot.Kernel, Initrd: ev.Boot.Initrd, Modules: ev.Boot.Modules}
		}
		planned = append(planned, pm)
	}
	var (
		profiles map[string]string
		booted   map[string]bootedRead
	)
	if !b.opts.NoRefresh {
		profiles, booted = b.readCurrentSystems(ctx, planned, boots)
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
	if policy == "" {
		policy = RebootNever
	}
	if policy != RebootNever && policy != RebootIfNeeded && policy != RebootAlways {
		return fmt.Errorf("--reboot %s: want never, if-needed or always", policy)
	}
	p.RebootPolicy = policy
	for _, pm := range planned {
		profile, profileRead := profiles[pm.Addr]
		pm.Action = machineAction(pm, profile, profileRead)
		if pm.CurrentRead && pm.Current == "" {
			// The host runs no system yet: there is nothing a watchdog
			// could switch back to.
			pm.MagicRollback, pm.ConfirmTimeout = false, ""
		}
		if pm.Action == plan.Noop && keysChanged(pm.Keys) {
			pm.Action = plan.UploadKeys
			pm.Reason = "the system is unchanged; keys change"
		}
		planReboot(pm, policy, boots, booted)
	}
	p.Machines = append(p.Machines, planned...)
	return nil
}

// Reboot policies (--reboot).
const (
	RebootNever    = "never"
	RebootIfNeeded = "if-needed"
	RebootAlways   = "always"
)

// bootedRead is what a host said about the system it booted.
type bootedRead struct {
	files remote.BootFiles
	known bool // the host has /run/booted-system
	err   error
}

// planReboot records whether pm's new system needs a reboot (its kernel,
// initrd or kernel modules differ from the booted system's) and whether
// apply reboots. A reboot activates with boot first, so it applies to
// switch and boot only.
func planReboot(pm *plan.Machine, policy string, boots map[string]remote.BootFiles, booted map[string]bootedRead) {
	if (pm.Action != plan.Deploy && pm.Action != plan.Noop) || pm.Activate == "test" || pm.Activate == "dry-activate" {
		return
	}
	r := &plan.Reboot{}
	next, evaluated := boots[pm.Addr]
	got, read := booted[pm.Addr]
	switch {
	case !evaluated:
		r.Unknown = "nixpkgs gives no kernel, initrd or kernel modules for this system"
	case !read:
		r.Unknown = "the host's booted system was not read"
	case got.err != nil:
		r.Unknown = "could not read the host's booted system: " + got.err.Error()
	case !got.known:
		r.Unknown = "the host has no /run/booted-system"
	default:
		r.Reasons = got.files.Changes(next)
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
func planSafety(pm *plan.Machine, m *spec.Machine, rec *state.Machine) error {
	keys, err := planKeys(m, rec)
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

func planTarget(t spec.Target) plan.Target {
	out := plan.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if out.Port == 0 {
		out.Port = 22
	}
	if out.User == "" {
		out.User = "root"
	}
	if t.Jump != nil {
		j := planTarget(*t.Jump)
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

// readCurrentSystems asks every host what it runs, over one connection per
// host, and, for machines to switch or boot, what its system profile (the
// system it boots) points to: it returns those profiles by address. A host
// that cannot be reached is planned anyway, with the reason; apply reports
// it as failed and goes on with the others.
func (b *planBuilder) readCurrentSystems(ctx context.Context, ms []*plan.Machine, boots map[string]remote.BootFiles) (map[string]string, map[string]bootedRead) {
	profiles := map[string]string{}
	booted := map[string]bootedRead{}
	if b.e.SSH == nil {
		return profiles, booted
	}
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(max(b.opts.Parallelism, 1))
	for _, pm := range ms {
		g.Go(func() error {
			conn, err := b.e.SSH.Dial(gctx, RemoteTarget(pm.Target))
			if err != nil {
				pm.Reason = "host not reachable at plan time: " + err.Error()
				b.e.emit(Event{Kind: EventWarning, Addr: pm.Addr, Message: pm.Reason})
				return nil
			}
			if pm.Target.HostKey == "" {
				pm.Target.HostKey = conn.HostKey() // trust on first use: apply enforces this key
			}
			// The profile is read over the same connection, at the same time.
			var (
				gens    []remote.Generation
				gensErr error
				gensRun sync.WaitGroup
			)
			readProfile := pm.Activate == "switch" || pm.Activate == "boot"
			if readProfile {
				gensRun.Go(func() { gens, gensErr = remote.Generations(gctx, conn) })
			}
			if _, ok := boots[pm.Addr]; ok && readProfile {
				gensRun.Go(func() {
					files, known, err := remote.BootedFiles(gctx, conn)
					mu.Lock()
					booted[pm.Addr] = bootedRead{files: files, known: known, err: err}
					mu.Unlock()
				})
			}
			cur, err := remote.CurrentSystem(gctx, conn)
			gensRun.Wait()
			if err != nil {
				pm.Reason = "could not read the current system: " + err.Error()
				b.e.emit(Event{Kind: EventWarning, Addr: pm.Addr, Message: pm.Reason})
				return nil
			}
			pm.Current, pm.CurrentRead = cur, true
			if readProfile {
				if gensErr != nil {
					b.e.emit(Event{Kind: EventWarning, Addr: pm.Addr, Message: "could not read the system profile: " + gensErr.Error()})
					return nil
				}
				profile := ""
				if g, ok := remote.CurrentGeneration(gens); ok {
					profile = g.Path
				}
				mu.Lock()
				profiles[pm.Addr] = profile
				mu.Unlock()
			}
			return nil
		})
	}
	_ = g.Wait()
	return profiles, booted
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
	rec := &state.Machine{Target: fmt.Sprintf("%s@%s:%d", pm.Target.User, pm.Target.Host, pm.Target.Port), HostKey: hostKey, DeclaredAt: pm.DeclaredAt,
		Keys: map[string]string{}}
	if prev != nil {
		rec.Drv, rec.Path, rec.Activation, rec.Generation, rec.DeployedAt = prev.Drv, prev.Path, prev.Activation, prev.Generation, prev.DeployedAt
		rec.LastRollback, rec.BootID = prev.LastRollback, prev.BootID
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
