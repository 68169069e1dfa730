package lang

import (
	"fmt"
	"regexp"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

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

// resourceModules builds one module per provider prefix of the schemas:
// "null.resource" and "null.other" become the module null with members
// resource and other.
func resourceModules(r *run) (starlark.StringDict, error) {
	members := map[string]starlark.StringDict{}
	for _, s := range r.opts.Schemas {
		prefix, kind, ok := strings.Cut(s.Type, ".")
		if !ok || !identifier.MatchString(prefix) || !identifier.MatchString(kind) {
			return nil, fmt.Errorf("lang: resource type %q must be \"provider.kind\" with both parts Starlark identifiers", s.Type)
		}
		if prefix == nixModuleName {
			return nil, fmt.Errorf("lang: resource type %q: the prefix %q is ferry's own module (nix.module, nix.inline); register the provider under another name", s.Type, prefix)
		}
		if members[prefix] == nil {
			members[prefix] = starlark.StringDict{}
		}
		if members[prefix].Has(kind) {
			return nil, fmt.Errorf("lang: resource type %q is listed twice in Options.Schemas", s.Type)
		}
		rt, err := newResourceType(s)
		if err != nil {
			return nil, err
		}
		members[prefix][kind] = starlark.NewBuiltin(s.Type, rt.call)
	}
	out := starlark.StringDict{}
	for prefix, m := range members {
		out[prefix] = &starlarkstruct.Module{Name: prefix, Members: m}
	}
	return out, nil
}

// resourceType is a schema prepared for calls.
type resourceType struct {
	schema    spec.Schema
	attrs     map[string]int // index into schema.Attrs
	attrNames []string       // every attribute, sorted
	argNames  []string       // what may be passed, sorted, for suggestions
	defaults  map[string]any // of optional arguments, in the value model
	example   string         // an attribute to suggest referring to
}

func newResourceType(s spec.Schema) (*resourceType, error) {
	rt := &resourceType{
		schema:   s,
		attrs:    make(map[string]int, len(s.Attrs)),
		argNames: []string{"name", "depends_on"},
		defaults: map[string]any{},
	}
	for i, a := range s.Attrs {
		switch {
		case !identifier.MatchString(a.Name):
			return nil, fmt.Errorf("lang: %s: attribute name %q is not a Starlark identifier", s.Type, a.Name)
		case a.Name == "name" || a.Name == "address":
			return nil, fmt.Errorf("lang: %s: attribute name %q is reserved (r.%s is built in)", s.Type, a.Name, a.Name)
		}
		if _, dup := rt.attrs[a.Name]; dup {
			return nil, fmt.Errorf("lang: %s: attribute %q is listed twice", s.Type, a.Name)
		}
		switch a.Kind {
		case spec.KindString, spec.KindNumber, spec.KindBool, spec.KindDuration, spec.KindMap, spec.KindList, spec.KindAny:
		default:
			return nil, fmt.Errorf("lang: %s: attribute %q has unknown kind %q", s.Type, a.Name, a.Kind)
		}
		rt.attrs[a.Name] = i
		rt.attrNames = append(rt.attrNames, a.Name)
		if a.Required || a.Optional {
			rt.argNames = append(rt.argNames, a.Name)
		}
		if a.Default != nil {
			d, err := fromGo(a.Default)
			if err != nil {
				return nil, fmt.Errorf("lang: %s: default of %q: %w", s.Type, a.Name, err)
			}
			rt.defaults[a.Name] = d
		}
		if rt.example == "" && a.Computed {
			rt.example = a.Name
		}
	}
	if rt.example == "" && len(s.Attrs) > 0 {
		rt.example = s.Attrs[0].Name
	}
	sort.Strings(rt.attrNames)
	sort.Strings(rt.argNames)
	return rt, nil
}

// call implements the builtin, e.g. null.resource(name, **attrs). Every
// problem with the call is reported at the caller and evaluation goes on
// with the returned resource, so that one run shows all mistakes.
func (rt *resourceType) call(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	var problems []string
	fail := func(format string, a ...any) {
		problems = append(problems, rt.schema.Type+": "+fmt.Sprintf(format, a...))
	}

	var nameArg starlark.Value
	if len(args) > 0 {
		nameArg = args[0]
	}
	if len(args) > 1 {
		fail("got %d positional arguments: pass only the name positionally and attributes by keyword", len(args))
	}
	values := make(map[string]any, len(rt.schema.Attrs))
	var dependsOn []string
	passed := make([]bool, len(rt.schema.Attrs)) // even if invalid: not "missing"
	for _, kv := range kwargs {
		key, v := string(kv[0].(starlark.String)), kv[1]
		if key == "name" {
			if nameArg != nil {
				fail(`got two values for argument "name"`)
			}
			nameArg = v
			continue
		}
		if key == "depends_on" {
			deps, msg := dependsOnArg(v)
			if msg != "" {
				fail("argument \"depends_on\": %s", msg)
			}
			dependsOn = deps
			continue
		}
		i, ok := rt.attrs[key]
		if !ok {
			msg := fmt.Sprintf("unexpected argument %q", key)
			if s := spec.Nearest(key, rt.argNames); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			fail("%s", msg)
			continue
		}
		a := rt.schema.Attrs[i]
		switch {
		case !a.Required && !a.Optional:
			fail("argument %q is computed by the provider and cannot be set", key)
			continue
		case v == starlark.None:
			continue // None means "not set"
		}
		passed[i] = true
		if msg, ok := passedItself(v); ok {
			fail("argument %q: %s", key, msg)
			continue
		}
		if msg := checkKind(a.Kind, v); msg != "" {
			fail("argument %q: %s", key, msg)
			continue
		}
		x, err := toValue(v)
		if err != nil {
			fail("argument %q%s", key, withPath(err))
			continue
		}
		values[key] = x
	}

	name, nameOK := "", false
	switch n := nameArg.(type) {
	case nil:
		fail(`missing required argument "name"`)
	case starlark.String:
		name, nameOK = string(n), validName(string(n))
		if !nameOK {
			fail(`invalid name %q: use letters, digits, "_" and "-"`, name)
		}
	default:
		fail(`argument "name": got %s, want string`, nameArg.Type())
	}
	for i, a := range rt.schema.Attrs {
		if passed[i] {
			continue
		}
		if a.Required {
			fail("missing required argument %q", a.Name)
		} else if d, ok := rt.defaults[a.Name]; ok {
			values[a.Name], _ = fromGo(d) // a fresh copy; d was checked in newResourceType
		}
	}

	res := newResourceValue(rt, name)
	pos := r.callerPos(thread, 1)
	if nameOK {
		addr := res.address()
		if first, dup := r.resources[addr]; dup {
			problems = append(problems, fmt.Sprintf("duplicate resource %s (first declared at %s)", addr, first))
		} else {
			r.resources[addr] = pos
		}
	}
	if len(problems) > 0 {
		for _, p := range problems {
			if err := r.report(r.callerError(thread, "%s", p)); err != nil {
				return nil, err
			}
		}
		return res, nil
	}
	r.cfg.Resources = append(r.cfg.Resources, &spec.Resource{
		Addr:      res.address(),
		Type:      rt.schema.Type,
		Name:      name,
		Args:      values,
		DependsOn: dependsOn,
		Pos:       pos,
	})
	return res, nil
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
