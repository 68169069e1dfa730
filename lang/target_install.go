package lang

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// install(ssh(...), kexec = "auto", kexec_image = None, phases = [...],
// min_memory = "1.5GiB"): the target of a machine that does not run NixOS
// yet. The ssh(...) describes the host as it is now (a rescue system, a
// fresh image of any distribution, a booted NixOS installer); the machine
// gets a target of kind "install" with the same endpoint and the install
// settings in spec.Target.Install.

// KindInstall is the kind of install(...) targets.
const KindInstall = "install"

const defaultMinMemory = "1.5GiB"

var installParams = []param{
	{name: "target", required: true, doc: "An ssh(...) for the host as it is now (the rescue system, the fresh image, the booted installer), usually as root."},
	{name: "kexec", def: `"auto"`, doc: `"auto" boots the NixOS kexec installer unless the host runs one (/etc/os-release VARIANT_ID=installer); "always"; "never" (the host is an installer already).`},
	{name: "kexec_image", doc: "A path or URL of the kexec installer tarball; default: the one nixos-images publishes for the host's architecture. The plan pins its URL and hash."},
	{name: "phases", def: `["kexec", "disko", "install", "reboot"]`, doc: `The steps to run, in this order. Leave out "disko" when the target's file systems are mounted at /mnt already.`},
	{name: "min_memory", def: `"` + defaultMinMemory + `"`, doc: `The least memory the host needs ("1.5GiB", "512MiB"): less fails the plan before anything is touched.`},
	{name: "installed_host_key", doc: "A file (relative to the configuration folder) with the OpenSSH ed25519 private key the installed system gets, e.g. the one agenix or sops-nix secrets are encrypted to; default: ferry generates one. The plan reads its public half (pinned and shown); apply writes the file into /mnt/etc/ssh after checking it still holds that key. The private key is never in the plan or state."},
}

var installDoc = builtinDoc{name: "install", params: installParams, returns: "a target for machine(target = ...)",
	summary: "The target of a machine that does not run NixOS yet: the plan reads the host's facts and shows the install (the disks it wipes) as its own action; apply boots the kexec installer, partitions with the machine's disko layout, installs and reboots into the system."}

func installBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"install": starlark.NewBuiltin("install", installTarget)}, nil
}

func installTarget(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "install"}
	a := unpack(p, installParams, args, kwargs)
	out := &targetValue{}
	in := &spec.Install{Kexec: "auto", Phases: slices.Clone(spec.InstallPhases)}
	in.MinMemory, _ = parseBytes(defaultMinMemory)
	if v, ok := a["target"]; ok {
		tv, isTarget := v.(*targetValue)
		switch {
		case !isTarget:
			p.add("argument %q: got %s, want ssh(...)", "target", v.Type())
		case tv.t.Kind != "ssh":
			p.add("argument %q: got %s, want ssh(...): install reaches the host as it is now over SSH", "target", tv.String())
		default:
			cp := *tv
			out = &cp
		}
	}
	if v, ok := a["kexec"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("kexec", err)
		} else if s != "auto" && s != "always" && s != "never" {
			p.add(`kexec %q: want "auto", "always" or "never"`, s)
		} else {
			in.Kexec = s
		}
	}
	if v, ok := a["kexec_image"]; ok && v != starlark.None {
		if s, err := wantString(v); err != nil {
			p.addArg("kexec_image", err)
		} else if s == "" {
			p.add("kexec_image is empty: give a path or URL of the kexec installer tarball, or leave it out")
		} else {
			in.KexecImage = s
		}
	}
	if v, ok := a["phases"]; ok {
		if phases, msg := installPhases(v); msg != "" {
			p.add("phases: %s", msg)
		} else {
			in.Phases = phases
		}
	}
	if v, ok := a["min_memory"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("min_memory", err)
		} else if n, err := parseBytes(s); err != nil {
			p.add("min_memory %q: %v", s, err)
		} else {
			in.MinMemory = n
		}
	}
	if v, ok := a["installed_host_key"]; ok && v != starlark.None {
		if s, err := wantString(v); err != nil {
			p.addArg("installed_host_key", err)
		} else if s == "" {
			p.add("installed_host_key is empty: give the file of the installed system's private host key, or leave it out")
		} else {
			in.HostKeyFile = s
		}
	}
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	out.t.Kind = KindInstall
	out.t.Install = in
	out.t.Pos = r.callerPos(thread, 1)
	return out, nil
}

// installPhases checks a phases list: known phases, each once, in the
// order of spec.InstallPhases.
func installPhases(v starlark.Value) ([]string, string) {
	list, ok := v.(*starlark.List)
	if !ok {
		return nil, fmt.Sprintf("got %s, want a list of %s", v.Type(), quoteAll(spec.InstallPhases))
	}
	var out []string
	last := -1
	for i := range list.Len() {
		s, ok := starlark.AsString(list.Index(i))
		if !ok {
			return nil, fmt.Sprintf("element %d is %s, want a string", i, list.Index(i).Type())
		}
		at := slices.Index(spec.InstallPhases, s)
		switch {
		case at < 0:
			return nil, fmt.Sprintf("unknown phase %q: the phases are %s", s, quoteAll(spec.InstallPhases))
		case at <= last:
			return nil, fmt.Sprintf("%q is repeated or out of order: write the phases in the order %s", s, quoteAll(spec.InstallPhases))
		}
		last = at
		out = append(out, s)
	}
	if len(out) == 0 {
		return nil, "empty: an install needs at least one phase"
	}
	return out, ""
}

func quoteAll(ss []string) string {
	q := make([]string, len(ss))
	for i, s := range ss {
		q[i] = strconv.Quote(s)
	}
	return strings.Join(q, ", ")
}

// parseBytes reads a size such as "1.5GiB", "512MiB", "2G" or "1048576".
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		n      float64
	}{{"TiB", 1 << 40}, {"GiB", 1 << 30}, {"MiB", 1 << 20}, {"KiB", 1 << 10}, {"T", 1 << 40}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}}
	num, mul := strings.TrimSpace(s), 1.0
	for _, u := range units {
		if rest, ok := strings.CutSuffix(num, u.suffix); ok {
			num, mul = strings.TrimSpace(rest), u.n
			break
		}
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f <= 0 {
		return 0, fmt.Errorf(`not a size: write it as "1.5GiB" or "512MiB"`)
	}
	return int64(f * mul), nil
}
