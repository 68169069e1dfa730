package lang

import (
	"slices"

	"github.com/nixferry/ferry/engine/spec"
)

// This file exports what the builtins say of themselves, for the
// reference (docs/reference.md, written by `ferry docs`): each builtin's
// summary and its parameter table (the one its call binds arguments
// with), the meta-arguments of every resource builtin, and the
// providers' schemas as lang exposes them. TestReference checks that
// every predeclared name is documented and every parameter described.

// builtinDoc describes one builtin; its file declares it beside the
// builtin's parameter table, and registry.go lists it.
type builtinDoc struct {
	name    string // as called: "machine", "nix.module", "aws.ec2"
	summary string
	params  []param
	returns string
}

// unpackName is the parameter as starlark.UnpackArgs spells it.
func (p param) unpackName() string {
	if p.required {
		return p.name
	}
	return p.name + "?"
}

// BuiltinDoc documents one builtin of the configuration language.
type BuiltinDoc struct {
	Name    string // as called: "machine", "nix.module"
	Summary string
	Params  []ParamDoc
	Returns string
}

// ParamDoc documents one parameter of a builtin.
type ParamDoc struct {
	Name     string
	Required bool
	Default  string // Starlark source; "" when there is none
	Doc      string
}

func (d builtinDoc) export() BuiltinDoc {
	out := BuiltinDoc{Name: d.name, Summary: d.summary, Returns: d.returns}
	for _, p := range d.params {
		out.Params = append(out.Params, ParamDoc{Name: p.name, Required: p.required, Default: p.def, Doc: p.doc})
	}
	return out
}

// Builtins documents the builtins a Load with opts predeclares, other
// than the resource types and provider configurations (see
// ResourceMetaArgs and the schemas): in the order registry.go lists them,
// with aws.ec2 and aws.nixos_ami when opts has the aws.instance type.
func Builtins(opts Options) []BuiltinDoc {
	var out []BuiltinDoc
	for _, m := range builtinModules() {
		for _, d := range m.docs {
			out = append(out, d.export())
		}
	}
	if slices.ContainsFunc(opts.Schemas, func(s spec.Schema) bool { return s.Type == ec2InstanceType }) {
		out = append(out, ec2Doc.export(), nixosAMIDoc.export())
	}
	return out
}

// resourceMetaDocs describes the arguments every resource builtin takes
// besides its schema's attributes, in resourceMetaArgs' order.
var resourceMetaDocs = map[string]param{
	argName:      {name: argName, required: true, doc: "The resource's name, the last part of its address TYPE.NAME; positional or by keyword."},
	argDependsOn: {name: argDependsOn, def: "[]", doc: `Resources or machines (values, or addresses such as "null.resource.a", which may be declared later) created before this one.`},
	argProvider:  {name: argProvider, doc: "A configuration of the resource's provider, from NAME.provider(...); default: the one without alias."},
	argLifecycle: {name: argLifecycle, doc: "lifecycle(...), or a dict with the same keys."},
	argTimeouts:  {name: argTimeouts, doc: `Bounds of apply's calls: {"create": "20m", "update": "5m", "delete": "10m"}, any of the three.`},
	argImportID:  {name: argImportID, doc: "The ID of an existing object: the plan imports it instead of creating one (and updates it in place if the configuration differs)."},
}

// ResourceMetaArgs documents the arguments every resource builtin takes
// besides its schema's attributes.
func ResourceMetaArgs() []ParamDoc {
	out := make([]ParamDoc, 0, len(resourceMetaArgs))
	for _, name := range resourceMetaArgs {
		p := resourceMetaDocs[name]
		out = append(out, ParamDoc{Name: p.name, Required: p.required, Default: p.def, Doc: p.doc})
	}
	return out
}

// ProviderAlias documents the argument NAME.provider(...) takes besides
// its provider's configuration schema.
func ProviderAlias() ParamDoc {
	return ParamDoc{Name: argAlias, Doc: "Names this configuration; resources pick it with provider = .... Without it, the provider's default configuration."}
}
