package lang

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// identifier is what a module, member or argument name must look like to
// be written in Starlark.
var identifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*$`)

// validName reports whether s may name a resource or an output: it is
// part of addresses and of file names in state, so letters, digits, "_"
// and "-" only.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// resourceModules builds one module per provider: "null.resource" and
// "null.other" become the module null with members resource and other,
// and a provider that takes a configuration (Options.Providers) gets
// NAME.provider(...) too.
func resourceModules(r *run) (starlark.StringDict, error) {
	configs, err := providerConfigs(r.opts.Providers)
	if err != nil {
		return nil, err
	}
	r.providerTypes = configs
	r.resourceTypes = map[string]*resourceType{}
	modules := map[string]*providerModule{}
	module := func(name string) *providerModule {
		if modules[name] == nil {
			modules[name] = &providerModule{name: name, members: starlark.StringDict{}}
		}
		return modules[name]
	}
	for name, pt := range configs {
		module(name).members[providerMember] = starlark.NewBuiltin(pt.args.fn, pt.call)
	}
	for _, s := range r.opts.Schemas {
		prefix, kind, ok := strings.Cut(s.Type, ".")
		if !ok || !identifier.MatchString(prefix) || !identifier.MatchString(kind) {
			return nil, fmt.Errorf("lang: resource type %q must be \"provider.kind\" with both parts Starlark identifiers", s.Type)
		}
		if prefix == nixModuleName {
			return nil, fmt.Errorf("lang: resource type %q: the prefix %q is ferry's own module (nix.module, nix.inline); register the provider under another name", s.Type, prefix)
		}
		if kind == providerMember {
			return nil, fmt.Errorf("lang: resource type %q: the member name %q is reserved for provider configurations (%s.provider(...)); name the type otherwise", s.Type, kind, prefix)
		}
		m := module(prefix)
		if m.members.Has(kind) {
			return nil, fmt.Errorf("lang: resource type %q is listed twice in Options.Schemas", s.Type)
		}
		rt, err := newResourceType(s, configs[prefix] != nil)
		if err != nil {
			return nil, err
		}
		m.members[kind] = starlark.NewBuiltin(s.Type, rt.call)
		r.resourceTypes[s.Type] = rt
	}
	if r.resourceTypes[ec2InstanceType] != nil {
		for name, b := range r.awsMachineMembers() {
			if module("aws").members.Has(name) {
				return nil, fmt.Errorf("lang: aws.%s is both a resource type and ferry's machine target", name)
			}
			module("aws").members[name] = b
		}
	}
	out := starlark.StringDict{}
	for name, m := range modules {
		out[name] = m
	}
	return out, nil
}

// Meta-arguments: what every resource builtin takes besides the
// attributes of its schema. No schema may have attributes by these names.
const (
	argName      = "name"
	argDependsOn = "depends_on"
	argProvider  = "provider"
	argLifecycle = "lifecycle"
	argTimeouts  = "timeouts"
	argImportID  = "import_id"
)

var resourceMetaArgs = []string{argName, argDependsOn, argProvider, argLifecycle, argTimeouts, argImportID}

// argSchema is a schema prepared for binding keyword arguments to its
// attributes: what resource builtins and NAME.provider(...) share, so
// that both accept the same shapes and word their errors the same way.
type argSchema struct {
	fn        string // the builtin, for messages: "null.resource", "aws.provider"
	schema    spec.Schema
	attrs     map[string]int // index into schema.Attrs
	attrNames []string       // every attribute, sorted
	argNames  []string       // what may be passed (meta-arguments too), sorted, for suggestions
	defaults  map[string]any // of optional arguments, in the value model
}

// newArgSchema checks s and prepares it for the builtin fn. meta lists
// the builtin's own arguments, which no attribute may be called;
// reserved gives more such names, with the reason.
func newArgSchema(fn string, s spec.Schema, meta []string, reserved map[string]string) (*argSchema, error) {
	as := &argSchema{
		fn:       fn,
		schema:   s,
		attrs:    make(map[string]int, len(s.Attrs)),
		argNames: append([]string(nil), meta...),
		defaults: map[string]any{},
	}
	for i, a := range s.Attrs {
		if !identifier.MatchString(a.Name) {
			return nil, fmt.Errorf("lang: %s: attribute name %q is not a Starlark identifier", fn, a.Name)
		}
		if why, ok := reserved[a.Name]; ok {
			return nil, fmt.Errorf("lang: %s: attribute name %q is reserved (%s)", fn, a.Name, why)
		}
		if slices.Contains(meta, a.Name) {
			return nil, fmt.Errorf("lang: %s: attribute name %q is reserved (an argument of every %s call)", fn, a.Name, fn)
		}
		if _, dup := as.attrs[a.Name]; dup {
			return nil, fmt.Errorf("lang: %s: attribute %q is listed twice", fn, a.Name)
		}
		switch a.Kind {
		case spec.KindString, spec.KindNumber, spec.KindBool, spec.KindDuration, spec.KindMap, spec.KindList, spec.KindAny:
		default:
			return nil, fmt.Errorf("lang: %s: attribute %q has unknown kind %q", fn, a.Name, a.Kind)
		}
		as.attrs[a.Name] = i
		as.attrNames = append(as.attrNames, a.Name)
		if a.Required || a.Optional {
			as.argNames = append(as.argNames, a.Name)
		}
		if a.Default != nil {
			d, err := fromGo(a.Default)
			if err != nil {
				return nil, fmt.Errorf("lang: %s: default of %q: %w", fn, a.Name, err)
			}
			as.defaults[a.Name] = d
		}
	}
	sort.Strings(as.attrNames)
	sort.Strings(as.argNames)
	return as, nil
}

// bound is what the attribute arguments of one call bound to.
type bound struct {
	values map[string]any
	passed []bool // by attribute index; also when invalid, so not "missing"
}

func (as *argSchema) newBound() *bound {
	return &bound{values: make(map[string]any, len(as.schema.Attrs)), passed: make([]bool, len(as.schema.Attrs))}
}

// bind binds the keyword argument key (not a meta-argument) to its
// attribute, or reports why it cannot.
func (as *argSchema) bind(p *callProblems, b *bound, key string, v starlark.Value) {
	i, ok := as.attrs[key]
	if !ok {
		msg := fmt.Sprintf("unexpected argument %q", key)
		if s := spec.Nearest(key, as.argNames); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		p.add("%s", msg)
		return
	}
	a := as.schema.Attrs[i]
	switch {
	case !a.Required && !a.Optional:
		p.add("argument %q is computed by the provider and cannot be set", key)
		return
	case v == starlark.None:
		return // None means "not set"
	}
	b.passed[i] = true
	if msg, ok := passedItself(v); ok {
		p.add("argument %q: %s", key, msg)
		return
	}
	if msg := checkKind(a.Kind, v); msg != "" {
		p.add("argument %q: %s", key, msg)
		return
	}
	x, err := toValue(v)
	if err != nil {
		p.addArg(key, err)
		return
	}
	b.values[key] = x
}

// finish reports the required arguments that were not passed and gives
// the omitted optional ones their defaults.
func (as *argSchema) finish(p *callProblems, b *bound) {
	for i, a := range as.schema.Attrs {
		if b.passed[i] {
			continue
		}
		if a.Required {
			p.add("missing required argument %q", a.Name)
		} else if d, ok := as.defaults[a.Name]; ok {
			b.values[a.Name], _ = fromGo(d) // a fresh copy; d was checked in newArgSchema
		}
	}
}

// resourceType is a schema prepared for calls.
type resourceType struct {
	args     *argSchema
	schema   spec.Schema
	provider string // its provider's name: "aws" of "aws.instance"
	// configurable: the provider takes a configuration, so provider = p
	// may name one.
	configurable bool
	example      string // an attribute to suggest referring to
}

func newResourceType(s spec.Schema, configurable bool) (*resourceType, error) {
	reserved := map[string]string{"address": "r.address is built in", "name": "r.name is built in"}
	for _, m := range resourceMetaArgs[1:] {
		reserved[m] = "every resource takes " + m + " = ..."
	}
	args, err := newArgSchema(s.Type, s, resourceMetaArgs, reserved)
	if err != nil {
		return nil, err
	}
	rt := &resourceType{args: args, schema: s, provider: spec.ProviderName(s.Type), configurable: configurable}
	for _, a := range s.Attrs {
		if a.Computed {
			rt.example = a.Name
			break
		}
	}
	if rt.example == "" && len(s.Attrs) > 0 {
		rt.example = s.Attrs[0].Name
	}
	return rt, nil
}

// call implements the builtin, e.g. null.resource(name, **attrs). Every
// problem with the call is reported at the caller and evaluation goes on
// with the returned resource, so that one run shows all mistakes.
func (rt *resourceType) call(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: rt.schema.Type}
	pos := r.callerPos(thread, 1)
	res := &spec.Resource{Type: rt.schema.Type, Pos: pos}

	var nameArg starlark.Value
	if len(args) > 0 {
		nameArg = args[0]
	}
	if len(args) > 1 {
		p.add("got %d positional arguments: pass only the name positionally and attributes by keyword", len(args))
	}
	b := rt.args.newBound()
	for _, kv := range kwargs {
		key, v := string(kv[0].(starlark.String)), kv[1]
		switch key {
		case argName:
			if nameArg != nil {
				p.add(`got two values for argument "name"`)
			}
			nameArg = v
		case argDependsOn:
			deps, msg := dependsOnArg(v)
			if msg != "" {
				p.add("argument \"depends_on\": %s", msg)
			}
			res.DependsOn = deps
		case argProvider, argLifecycle, argTimeouts, argImportID:
			if v != starlark.None {
				rt.metaArg(p, res, key, v)
			}
		default:
			rt.args.bind(p, b, key, v)
		}
	}

	nameOK := false
	switch n := nameArg.(type) {
	case nil:
		p.add(`missing required argument "name"`)
	case starlark.String:
		res.Name, nameOK = string(n), validName(string(n))
		if !nameOK {
			p.add(`invalid name %q: use letters, digits, "_" and "-"`, res.Name)
		}
	default:
		p.add(`argument "name": got %s, want string`, nameArg.Type())
	}
	rt.args.finish(p, b)
	res.Args = b.values

	rv := newResourceValue(rt, res.Name)
	res.Addr = rv.address()
	if nameOK {
		if first, dup := r.resources[res.Addr]; dup {
			p.addPlain("duplicate resource %s (first declared at %s)", res.Addr, first)
		} else {
			r.resources[res.Addr] = pos
		}
	}
	if !p.empty() {
		if err := p.report(r, thread); err != nil {
			return nil, err
		}
		return rv, nil
	}
	r.cfg.Resources = append(r.cfg.Resources, res)
	return rv, nil
}

// withPath renders a conversion problem after an argument name:
// `["v"][0]: got function, ...` or `: got function, ...`.
func withPath(err *convertError) string {
	return err.path + ": " + err.msg
}

// dependsOnArg reads depends_on = [...]: resources, machines, or address
// strings for those declared later or in another file.
func dependsOnArg(v starlark.Value) ([]string, string) {
	if v == starlark.None {
		return nil, ""
	}
	it, ok := v.(starlark.Iterable)
	if !ok || v.Type() == "string" || v.Type() == "dict" {
		return nil, fmt.Sprintf("got %s, want list of resources, machines or addresses", v.Type())
	}
	var out []string
	iter := it.Iterate()
	defer iter.Done()
	var x starlark.Value
	for iter.Next(&x) {
		switch x := x.(type) {
		case *resourceValue:
			out = append(out, x.address())
		case *machineValue:
			out = append(out, x.addr)
		case starlark.String:
			out = append(out, string(x))
		default:
			return nil, fmt.Sprintf("got a %s in the list, want a resource, a machine or an address string", x.Type())
		}
	}
	return out, ""
}
