package lang

import (
	"fmt"
	"path"
	"strings"
	"time"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// machineBuiltins provides machine(name, target = None, modules = [], tags = [],
// depends_on = [], build_on_target = False, build = None, build_host =
// None, store_path = None, keys = [], checks = [], magic_rollback = True,
// confirm_timeout = "30s", rollback_on_failure = False, flake = None),
// which declares a NixOS machine at address
// machine.NAME. flake = "DIR#NAME" makes the machine the flake's
// nixosConfigurations.NAME, extended with its modules. Without a target,
// the machine is reached as its modules' deployment.targetHost,
// targetPort and targetUser say (spec.Target.FromNix), as in NixOps.
func machineBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"machine": starlark.NewBuiltin("machine", declareMachine)}, nil
}

var machineParams = []param{
	{name: "name", required: true, doc: "The machine's name: its address is machine.NAME, and modules see it as name (and in nodes)."},
	{name: "target", doc: "Where the machine is: ssh(...) for a host that runs NixOS already, aws.ec2(...) for an EC2 instance ferry creates; left out, the modules' deployment.targetHost, targetPort and targetUser (NixOps)."},
	{name: "modules", def: "[]", doc: "NixOS modules (nix.module, nix.inline), after those of defaults()."},
	{name: "tags", def: "[]", doc: "Tags, for --on @TAG, --exclude @TAG and rollout(tags = ...)."},
	{name: "depends_on", def: "[]", doc: "Resources and machines (values or addresses) deployed before this machine."},
	{name: "build_on_target", def: "False", doc: `Build the system on the machine instead of on the deployer: the older spelling of build = "target".`},
	{name: "keys", def: "[]", doc: "Secrets to upload (key(...))."},
	{name: "checks", def: "[]", doc: "Health checks (cmd_check, http_check) that must pass after activation."},
	{name: "magic_rollback", def: "True", doc: "Before a switch, start a watchdog on the host that switches back unless ferry logs in again over a new SSH connection and confirms within confirm_timeout."},
	{name: "confirm_timeout", def: `"30s"`, doc: "How long the watchdog waits for the confirmation, counted from the end of the activation."},
	{name: "rollback_on_failure", def: "False", doc: "Switch back to the previous system when activation, a key upload after it or a health check fails."},
	{name: "flake", doc: `A NixOS system of a flake instead of nixpkgs: ".#web" or "./sub#web" is the flake's nixosConfigurations.web (relative to the configuration directory), extended with ferry's modules and this machine's modules.`},
	buildParam, buildHostParam, storePathParam, // build.go: after the older parameters, which keep their positions
	transferParam,
}

var machineDoc = builtinDoc{name: "machine", params: machineParams, returns: "the machine; machine.target.host and the other target arguments are readable",
	summary: "A NixOS machine at address machine.NAME: a target plus the modules that make its system."}

// defaultConfirmTimeout bounds the wait for the confirmation of a switch.
const defaultConfirmTimeout = 30 * time.Second

func declareMachine(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "machine"}
	a := unpack(p, machineParams, args, kwargs)
	m := &spec.Machine{Pos: r.callerPos(thread, 1), MagicRollback: true, ConfirmTimeout: defaultConfirmTimeout}
	// Whatever is wrong, the returned value is usable (an empty target,
	// no tags), so that a mistake here is reported once and not again at
	// every use of the machine.
	mv := &machineValue{target: &targetValue{t: spec.Target{Kind: "ssh"}}, tags: starlark.NewList(nil)}
	mv.tags.Freeze()

	nameOK := false
	if v, ok := a["name"]; ok {
		if name, err := wantString(v); err != nil {
			p.addArg("name", err)
		} else if !validName(name) {
			p.add(`invalid name %q: use letters, digits, "_" and "-"`, name)
		} else {
			m.Name, m.Addr, nameOK = name, spec.MachineAddr(name), true
		}
	}
	mv.name, mv.addr = m.Name, m.Addr
	var added []spec.Module // what aws.ec2 adds, after the machine's modules
	v, ok := a["target"]
	if !ok {
		// NixOps and Colmena modules say where the machine is
		// (deployment.targetHost, ...): the engine reads it after
		// evaluation.
		m.Target = spec.Target{Kind: "ssh", FromNix: true, Pos: m.Pos}
		mv.target = &targetValue{t: m.Target}
	} else {
		switch t := v.(type) {
		case *targetValue:
			if t.instance != nil {
				if !nameOK {
					break // the instance would have no name
				}
				t, added = t.instance.declare(thread, r, p, m.Name)
			}
			mv.target, m.Target = t, t.spec()
		case *machineValue:
			p.add("argument \"target\": got the machine %s; pass a target such as ssh(host = \"10.0.0.2\"), or %s.target to reach it the same way", t.addr, t.name)
		default:
			p.add("argument \"target\": got %s, want a target such as ssh(host = \"10.0.0.2\")", v.Type())
		}
	}
	if v, ok := a["flake"]; ok {
		if ref, err := wantString(v); err != nil {
			p.addArg("flake", err)
		} else if f, msg := r.machineFlake(m.Pos.File, ref); msg != "" {
			p.add("%s", msg)
		} else {
			m.Flake = f
		}
	}
	if v, ok := a["modules"]; ok {
		if mods, err := wantModules(v); err != nil {
			p.addArg("modules", err)
		} else {
			for _, mod := range mods {
				m.Modules = append(m.Modules, mod.spec())
			}
		}
	}
	m.Modules = append(m.Modules, added...)
	if v, ok := a["tags"]; ok {
		if tags, err := wantStrings(v); err != nil {
			p.addArg("tags", err)
		} else {
			m.Tags = tagList(p, tags)
			elems := make([]starlark.Value, len(m.Tags))
			for i, t := range m.Tags {
				elems[i] = starlark.String(t)
			}
			mv.tags = starlark.NewList(elems)
			mv.tags.Freeze()
		}
	}
	if v, ok := a["depends_on"]; ok {
		deps, msg := dependsOnArg(v)
		if msg != "" {
			p.add("argument \"depends_on\": %s", msg)
		}
		m.DependsOn = deps
	}
	buildGiven := setMachineBuild(p, a, m).given() // build.go

	m.Transfer = transferArg(p, a, m.Pos)
	if v, ok := a["keys"]; ok {
		m.Keys = machineKeys(p, v)
	}
	if v, ok := a["checks"]; ok {
		items, isSeq := sequence(v)
		if !isSeq {
			p.add("argument \"checks\": got %s, want list of checks from cmd_check() or http_check()", v.Type())
		}
		for i, x := range items {
			c, ok := x.(*checkValue)
			if !ok {
				p.add("argument \"checks\"[%d]: got %s, want a check from cmd_check() or http_check()", i, x.Type())
				continue
			}
			m.Checks = append(m.Checks, c.c)
		}
	}
	for _, b := range []struct {
		name string
		dst  *bool
	}{{"magic_rollback", &m.MagicRollback}, {"rollback_on_failure", &m.RollbackOnFailure}} {
		if v, ok := a[b.name]; ok {
			if x, err := wantBool(v); err != nil {
				p.addArg(b.name, err)
			} else {
				*b.dst = x
			}
		}
	}
	durationArg(p, a, "confirm_timeout", &m.ConfirmTimeout, func(d time.Duration) string {
		if d < time.Second {
			return "want at least 1s (the host must be reached again within it)"
		}
		return ""
	})

	if nameOK {
		if first, dup := r.machines[m.Addr]; dup {
			p.addPlain("duplicate machine %s (first declared at %s)", m.Addr, first)
		} else {
			r.machines[m.Addr] = m.Pos
			if r.machineBuilds == nil {
				r.machineBuilds = map[string]bool{}
			}
			r.machineBuilds[m.Addr] = buildGiven
		}
	}
	if !p.empty() {
		if err := p.report(r, thread); err != nil {
			return nil, err
		}
		return mv, nil
	}
	r.cfg.Machines = append(r.cfg.Machines, m)
	return mv, nil
}

// machineKeys reads keys = [...]: keys from key(), with distinct
// destinations.
func machineKeys(p *callProblems, v starlark.Value) []*spec.Key {
	items, ok := sequence(v)
	if !ok {
		p.add("argument \"keys\": got %s, want list of keys from key()", v.Type())
		return nil
	}
	var out []*spec.Key
	seen := map[string]spec.Pos{}
	for i, x := range items {
		kv, ok := x.(*keyValue)
		if !ok {
			p.add("argument \"keys\"[%d]: got %s, want a key from key()", i, x.Type())
			continue
		}
		if kv.bad {
			continue
		}
		dest := path.Join(kv.k.DestDir, kv.k.Name)
		if first, dup := seen[dest]; dup {
			p.add("two keys land at %s (the first declared at %s): give them different names or dest_dir", dest, first)
			continue
		}
		seen[dest] = kv.k.Pos
		out = append(out, kv.k)
	}
	return out
}

// tagList checks tags and drops repeated ones, keeping the first
// occurrence's order. Tags select machines on the command line
// (--target @web), so they follow the rules of names.
func tagList(p *callProblems, tags []string) []string {
	if len(tags) == 0 {
		return nil
	}
	out := make([]string, 0, len(tags))
	seen := make(map[string]bool, len(tags))
	for _, t := range tags {
		if !validName(t) {
			p.add(`invalid tag %q: use letters, digits, "_" and "-"`, t)
			continue
		}
		if !seen[t] {
			seen[t] = true
			out = append(out, t)
		}
	}
	return out
}

// finishMachines gives every machine the deployment's defaults modules,
// in front of its own, its default build location, and the defaults' transfer unless it has its own. It runs after the whole configuration has been
// evaluated, so defaults() applies to machines declared before it too,
// as NixOps' defaults does.
func (r *run) finishMachines() {
	for _, m := range r.cfg.Machines {
		r.finishBuild(m) // build.go
		if m.Transfer == nil {
			m.Transfer = r.defaultTransfer
		}
		if len(r.defaultModules) == 0 || m.StorePath != "" {
			continue // a system given by store path is not evaluated
		}
		mods := make([]spec.Module, 0, len(r.defaultModules)+len(m.Modules))
		for _, d := range r.defaultModules {
			mods = append(mods, d.spec())
		}
		m.Modules = append(mods, m.Modules...)
	}
}

// machineValue is what machine() returns. m.name and m.address are
// strings, m.target is the target value (so m.target.host is a plain
// string) and m.tags a frozen list of strings.
type machineValue struct {
	name   string
	addr   string // "machine." + name
	target *targetValue
	tags   *starlark.List
}

var (
	_ starlark.HasAttrs   = (*machineValue)(nil)
	_ starlark.Comparable = (*machineValue)(nil)
)

func (v *machineValue) String() string        { return "<machine " + v.addr + ">" }
func (v *machineValue) Type() string          { return "machine" }
func (v *machineValue) Freeze()               {} // immutable
func (v *machineValue) Truth() starlark.Bool  { return starlark.True }
func (v *machineValue) Hash() (uint32, error) { return starlark.String(v.addr).Hash() }

func (v *machineValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return compareByIdentity(op, v.addr, y.(*machineValue).addr, v.Type())
}

var machineAttrs = []string{"address", "name", "tags", "target"}

func (v *machineValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "address":
		return starlark.String(v.addr), nil
	case "name":
		return starlark.String(v.name), nil
	case "tags":
		return v.tags, nil
	case "target":
		return v.target, nil
	}
	msg := fmt.Sprintf("%s has no attribute %q", v.addr, name)
	if s := spec.Nearest(name, machineAttrs); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s; valid attributes: %s", msg, strings.Join(machineAttrs, ", "))
}

func (v *machineValue) AttrNames() []string { return machineAttrs }

// passedItself explains what to do when the machine itself is passed
// where a value is expected.
func (v *machineValue) passedItself() string {
	return fmt.Sprintf("got the machine %s itself; pass one of its attributes, such as %s.target.host or %s.name", v.addr, v.name, v.name)
}
