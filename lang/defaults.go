package lang

import "go.starlark.net/starlark"

// defaultsBuiltins provides defaults(modules = [...], transfer = "push"),
// NixOps' defaults: modules every machine of the deployment gets, in
// front of its own, and the transfer strategy of machines without one. It
// may be called once, before or after the machines it applies to.
func defaultsBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"defaults": starlark.NewBuiltin("defaults", defaults)}, nil
}

var (
	defaultsParams = []param{
		{name: "modules", def: "[]", doc: "Modules (nix.module, nix.inline) every machine gets in front of its own."},
		{name: transferParam.name, def: transferParam.def, doc: `The transfer strategy of every machine that gives none: "push", "substitute" or nix_cache(...).`},
	}
	defaultsDoc = builtinDoc{name: "defaults", params: defaultsParams, returns: "None",
		summary: "NixOps' defaults: modules every machine of the deployment gets. Call it once, before or after the machines."}
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
	r.defaultTransfer = transferArg(p, a, pos)
	return starlark.None, p.report(r, thread)
}
