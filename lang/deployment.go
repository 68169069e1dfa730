package lang

import (
	"regexp"

	"go.starlark.net/starlark"
)

// deploymentName is what a deployment name may contain: it names state
// objects and plan files.
var deploymentName = regexp.MustCompile(`^[A-Za-z0-9_][A-Za-z0-9_.-]*$`)

// deploymentBuiltins provides deployment(name, description = ""), which
// names the deployment this configuration describes. It may be called
// once.
func deploymentBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"deployment": starlark.NewBuiltin("deployment", deployment)}, nil
}

var (
	deploymentParams = []param{
		{name: "name", required: true, doc: "The deployment's name: its state's name in the state store, unless -d NAME says otherwise (default: \"default\")."},
		{name: "description", def: `""`, doc: "What the deployment is, for people."},
	}
	deploymentDoc = builtinDoc{name: "deployment", params: deploymentParams, returns: "None",
		summary: "Names the deployment this configuration describes. Call it once."}
)

func deployment(thread *starlark.Thread, b *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	var name, description string
	if err := starlark.UnpackArgs(b.Name(), args, kwargs, deploymentParams[0].unpackName(), &name, deploymentParams[1].unpackName(), &description); err != nil {
		return nil, err
	}
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	if r.deploymentSeen {
		return starlark.None, r.report(r.callerError(thread,
			"deployment() is called a second time; the first call is at %s: call it once", r.deploymentPos))
	}
	r.deploymentSeen, r.deploymentPos = true, pos
	if !deploymentName.MatchString(name) {
		return starlark.None, r.report(r.callerError(thread,
			`deployment: invalid name %q: use letters, digits, "_", "-" and "." (not first)`, name))
	}
	r.cfg.Deployment, r.cfg.Description = name, description
	return starlark.None, nil
}
