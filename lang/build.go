package lang

import (
	"path"
	"regexp"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// Where a machine's system is built: machine(build = "local" | "target",
// build_host = ssh(...), store_path = "/nix/store/...") and the same
// build and build_host on defaults(). A machine's own choice wins over
// the deployment's default; build_on_target = True is the older spelling
// of build = "target".

var (
	buildParam     = param{name: "build", doc: `Where the system is built: "local" (the default: this machine, with the remote builders of its nix.conf) or "target" (the machine itself; build_on_target = True says the same).`}
	buildHostParam = param{name: "build_host", doc: "A build machine, ssh(...) or another machine: the derivations are copied there and built there, and the target fetches the system from it directly (never through this machine), with the build host's key pinned."}
	storePathParam = param{name: "store_path", doc: `The system, built elsewhere (e.g. by CI): "/nix/store/...-nixos-system-...". Not evaluated (no modules); pushed from this machine's Nix store, or fetched by the target from its substituters.`}
)

// buildChoice is what one call said about the build location; zero
// fields were not given.
type buildChoice struct {
	build     string // "local", "target" or ""
	buildHost *spec.BuildHost
}

func (b buildChoice) given() bool { return b.build != "" || b.buildHost != nil }

// buildArgs reads build and build_host (and, for machine(),
// build_on_target) from a.
func buildArgs(p *callProblems, a map[string]starlark.Value) buildChoice {
	var out buildChoice
	if v, ok := a["build"]; ok {
		switch s, err := wantString(v); {
		case err != nil:
			p.addArg("build", err)
		case s == "local" || s == "target":
			out.build = s
		default:
			p.add(`argument "build": got %q, want "local" or "target" (or build_host = ssh(...) for a build machine, store_path = "/nix/store/..." for a system built elsewhere)`, s)
		}
	}
	if v, ok := a["build_on_target"]; ok {
		switch b, err := wantBool(v); {
		case err != nil:
			p.addArg("build_on_target", err)
		case b && out.build == "local":
			p.add(`build_on_target = True contradicts build = "local": keep build = "target" or "local"`)
		case b:
			out.build = "target"
		}
	}
	if v, ok := a["build_host"]; ok {
		out.buildHost = buildHostArg(p, v)
		if out.buildHost != nil && out.build != "" {
			p.add(`build = %q and build_host exclude each other: build_host builds on that machine`, out.build)
		}
	}
	return out
}

// buildHostArg reads build_host: an ssh(...) target known at plan time,
// or a machine (built on the host its target names).
func buildHostArg(p *callProblems, v starlark.Value) *spec.BuildHost {
	var (
		t    *targetValue
		name string
	)
	switch x := v.(type) {
	case *targetValue:
		t = x
	case *machineValue:
		t, name = x.target, x.name
	default:
		p.add(`argument "build_host": got %s, want ssh(...) or a machine`, v.Type())
		return nil
	}
	switch {
	case t.instance != nil || t.t.Resource != "":
		p.add(`argument "build_host": a build machine ferry creates is not supported; give an existing one with ssh(host = ...)`)
		return nil
	case len(t.t.Refs) > 0 || t.t.FromNix:
		p.add(`argument "build_host": its host must be known when the configuration loads (it is not an ssh(...) of plain values)`)
		return nil
	case t.jump != nil:
		p.add(`argument "build_host": a build host behind a jump host is not supported: the target fetches the system from the build host directly, so it must reach it at its address`)
		return nil
	}
	st := t.spec()
	if name == "" {
		name = st.Host
	}
	return &spec.BuildHost{Name: name, Target: st}
}

// storePathRE is a Nix store path: /nix/store/<32 base-32 chars>-<name>.
var storePathRE = regexp.MustCompile(`^/nix/store/[0-9a-df-np-sv-z]{32}-[A-Za-z0-9+\-._?=]+$`)

// storePathArg reads store_path.
func storePathArg(p *callProblems, a map[string]starlark.Value) string {
	v, ok := a["store_path"]
	if !ok {
		return ""
	}
	s, err := wantString(v)
	if err != nil {
		p.addArg("store_path", err)
		return ""
	}
	if !storePathRE.MatchString(s) || path.Clean(s) != s {
		p.add(`argument "store_path": %q is not a Nix store path; want "/nix/store/<hash>-nixos-system-<name>-<version>", as nix-build or nix path-info prints it`, s)
		return ""
	}
	return s
}

// setMachineBuild applies what machine() said about the build location
// to m: store_path excludes modules, flakes and any build location.
func setMachineBuild(p *callProblems, a map[string]starlark.Value, m *spec.Machine) buildChoice {
	b := buildArgs(p, a)
	m.StorePath = storePathArg(p, a)
	if m.StorePath != "" {
		var clash []string
		for _, n := range []string{"modules", "flake", "build", "build_host", "build_on_target"} {
			if _, ok := a[n]; ok {
				clash = append(clash, n)
			}
		}
		if len(clash) > 0 {
			p.add("store_path gives a system built elsewhere, which is not evaluated or built: leave out %s", strings.Join(clash, ", "))
		}
		if _, ok := a["target"]; !ok {
			p.add("store_path needs a target (ssh(...)): without one the target comes from the modules' deployment.targetHost, and a system given by store path is not evaluated")
		}
		return buildChoice{}
	}
	m.BuildOnTarget, m.BuildHost = b.build == "target", b.buildHost
	return b
}

// finishBuild gives m the deployment's default build location unless it
// chose its own (or is given by store path).
func (r *run) finishBuild(m *spec.Machine) {
	if r.machineBuilds[m.Addr] || m.StorePath != "" || !r.defaultBuild.given() {
		return
	}
	m.BuildOnTarget = r.defaultBuild.build == "target"
	if h := r.defaultBuild.buildHost; h != nil {
		cp := *h // machines share no build host value
		m.BuildHost = &cp
	}
}
