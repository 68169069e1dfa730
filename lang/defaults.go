package lang

import "go.starlark.net/starlark"

// defaultsBuiltins provides defaults(modules = [...], build = None,
// build_host = None, transfer = "push"), NixOps' defaults: modules every
// machine of the deployment gets, in front of its own, where systems are
// built (build.go) and how closures reach the hosts, unless a machine
// says otherwise. It may be called once, before or after the machines it
// applies to.
func defaultsBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"defaults": starlark.NewBuiltin("defaults", defaults)}, nil
}

var (
	defaultsParams = []param{
		{name: "modules", def: "[]", doc: "Modules (nix.module, nix.inline) every machine gets in front of its own."},
		buildParam, buildHostParam,
		{name: transferParam.name, def: transferParam.def, doc: `The transfer strategy of every machine that gives none: "push", "substitute" or nix_cache(...).`},
	}
	defaultsDoc = builtinDoc{name: "defaults", params: defaultsParams, returns: "None",
		summary: "NixOps' defaults: modules every machine of the deployment gets, where systems are built and how closures travel, unless a machine says otherwise. Call it once, before or after the machines."}
)

func defaults(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	if r.defaultsSeen {
		return starlark.None, r.report(r.callerError(thread,
			"defaults() is called a second time; the first call is at %s: call it once, with every default module", r.defaultsPos))
	}
	r.defaultsSeen, r.defaultsPos = true, pos
	p := &callProblems{fn: "defaults"}
	a := unpack(p, defaultsParams, args, kwargs)
	if v, ok := a["modules"]; ok {
		if mods, err := wantModules(v); err != nil {
			p.addArg("modules", err)
		} else {
			r.defaultModules = mods
		}
	}
	r.defaultBuild = buildArgs(p, a) // build.go
	r.defaultTransfer = transferArg(p, a, pos)
	if len(a) == 0 && p.empty() {
		p.add("give modules, build, build_host or transfer: what every machine gets")
	}
	return starlark.None, p.report(r, thread)
}
