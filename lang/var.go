package lang

import (
	"encoding/json"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// varEnvPrefix prefixes the environment variable that sets a var.
const varEnvPrefix = "FERRY_VAR_"

// varBuiltins provides var(name, default = ...), the only way a
// configuration reads its environment: the value passed with --var
// name=VALUE, else the environment variable FERRY_VAR_<name>, else the
// default (any value), else an error. Every value read is recorded in
// Config.Inputs.Vars, so a plan can tell when its inputs changed.
func varBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"var": starlark.NewBuiltin("var", readVar)}, nil
}

var (
	varParams = []param{
		{name: "name", required: true, doc: "The variable's name: letters, digits and _."},
		{name: "default", doc: "The value when neither --var nor the environment sets it (any value); without it, the variable must be set."},
	}
	varDoc = builtinDoc{name: "var", params: varParams, returns: "the value: a string from --var or the environment, else the default",
		summary: "The only way a configuration reads its environment: --var NAME=VALUE, else FERRY_VAR_NAME, else the default, else an error. Values read are part of the plan's input digest (as keyed digests)."}
)

func readVar(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var def starlark.Value // nil when not passed; None is a valid default
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, varParams[0].unpackName(), &name, varParams[1].unpackName(), &def); err != nil {
		return nil, err
	}
	r := runOf(thread)
	if !identifier.MatchString(name) {
		return nil, r.callerError(thread, `var: invalid name %q: use letters, digits and "_", not starting with a digit`, name)
	}
	if v, ok := r.opts.Vars[name]; ok {
		r.recordVar(name, v)
		return starlark.String(v), nil
	}
	if v, ok := r.fileVars[name]; ok {
		return v, r.recordValueVar(thread, name, "var file value", v)
	}
	if r.opts.LookupEnv != nil {
		if v, ok := r.opts.LookupEnv(varEnvPrefix + name); ok {
			r.recordVar(name, v)
			return starlark.String(v), nil
		}
	}
	if def == nil {
		return nil, r.callerError(thread, "var %q is not set: pass --var %s=VALUE or set %s%s", name, name, varEnvPrefix, name)
	}
	return def, r.recordValueVar(thread, name, "default", def)
}

// recordValueVar records v, a var's value that did not come as a string
// from the command line or the environment: a string as it is, anything
// else as JSON.
func (r *run) recordValueVar(thread *starlark.Thread, name, what string, v starlark.Value) error {
	if s, ok := v.(starlark.String); ok {
		r.recordVar(name, string(s))
		return nil
	}
	x, err := toValue(v)
	if err != nil {
		return r.callerError(thread, "var %q: %s%s", name, what, withPath(err))
	}
	encoded, jerr := json.Marshal(spec.Encode(x))
	if jerr != nil {
		return r.callerError(thread, "var %q: %s: %v", name, what, jerr)
	}
	r.recordVar(name, string(encoded))
	return nil
}

// recordVar records the value a var was first read as. Reading it again
// gives the same value unless the later call passes a different default;
// evaluation is deterministic, so the first value is as good a digest
// input as any.
func (r *run) recordVar(name, value string) {
	if _, seen := r.cfg.Inputs.Vars[name]; !seen {
		r.cfg.Inputs.Vars[name] = value
	}
}
