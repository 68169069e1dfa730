package lang

import (
	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// outputBuiltins provides output(name, value, sensitive = False), which
// declares a value to show after apply and with `ferry output`. The value
// may contain references; a sensitive one reads (sensitive) wherever
// ferry shows it, except `ferry output --raw NAME`.
func outputBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"output": starlark.NewBuiltin("output", output)}, nil
}

var (
	outputParams = []param{
		{name: "name", required: true, doc: "The output's name."},
		{name: "value", required: true, doc: "Any value; references and format() values resolve at apply."},
		{name: "sensitive", def: "False", doc: "Shown as (sensitive) by apply, show and ferry output; ferry output --raw NAME prints it."},
	}
	outputDoc = builtinDoc{name: "output", params: outputParams, returns: "None",
		summary: "A value the deployment reports after apply (ferry show, apply's summary)."}
)

func output(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name string
	var value starlark.Value
	var sensitive bool
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, outputParams[0].unpackName(), &name, outputParams[1].unpackName(), &value, outputParams[2].unpackName(), &sensitive); err != nil {
		return nil, err
	}
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	if !validName(name) {
		return starlark.None, r.report(r.callerError(thread, `output: invalid name %q: use letters, digits, "_" and "-"`, name))
	}
	if first, dup := r.outputs[name]; dup {
		return starlark.None, r.report(r.callerError(thread, "duplicate output %q (first declared at %s)", name, first))
	}
	r.outputs[name] = pos
	v, err := toValue(value)
	if err != nil {
		return starlark.None, r.report(r.callerError(thread, "output %q%s", name, withPath(err)))
	}
	r.cfg.Outputs = append(r.cfg.Outputs, &spec.Output{Name: name, Value: v, Sensitive: sensitive, Pos: pos})
	return starlark.None, nil
}
