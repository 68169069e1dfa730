package lang

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// ProviderSchema describes a provider for Options.Providers.
type ProviderSchema struct {
	// Name is the provider's namespace, the prefix of its resource types:
	// "aws" of "aws.instance".
	Name string
	// Config describes the arguments of NAME.provider(...); nil when the
	// provider takes no configuration, and then NAME.provider does not
	// exist. "alias" may not be one of its attributes: it names the
	// configuration.
	Config *spec.Schema
}

// providerMember is the member of a provider's module that declares a
// configuration: aws.provider(...).
const providerMember = "provider"

// argAlias is the argument of NAME.provider(...) that names a
// configuration other than the default one.
const argAlias = "alias"

// providerType is a provider configuration schema prepared for calls of
// NAME.provider(alias = None, **config).
type providerType struct {
	name string
	args *argSchema
}

// providerConfigs prepares the providers that take a configuration, by
// name.
func providerConfigs(ps []ProviderSchema) (map[string]*providerType, error) {
	out := map[string]*providerType{}
	seen := map[string]bool{}
	for _, ps := range ps {
		switch {
		case !identifier.MatchString(ps.Name):
			return nil, fmt.Errorf("lang: provider name %q is not a Starlark identifier", ps.Name)
		case ps.Name == nixModuleName:
			return nil, fmt.Errorf("lang: provider name %q is ferry's own module (nix.module, nix.inline); register the provider under another name", ps.Name)
		case seen[ps.Name]:
			return nil, fmt.Errorf("lang: provider %q is listed twice in Options.Providers", ps.Name)
		}
		seen[ps.Name] = true
		if ps.Config == nil {
			continue
		}
		fn := ps.Name + "." + providerMember
		args, err := newArgSchema(fn, *ps.Config, []string{argAlias},
			map[string]string{argAlias: fmt.Sprintf("it names the configuration: %s(alias = ...)", fn)})
		if err != nil {
			return nil, err
		}
		out[ps.Name] = &providerType{name: ps.Name, args: args}
	}
	return out, nil
}

// call implements NAME.provider(alias = None, **config): it declares a
// configuration of the provider (Config.Providers) and returns a value
// for the provider = ... argument of its resources. Problems are
// reported at the caller and evaluation goes on, as for resources.
func (pt *providerType) call(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: pt.args.fn}
	pc := &spec.ProviderConfig{Name: pt.name, Pos: r.callerPos(thread, 1)}
	if len(args) > 0 {
		p.add("got %d positional arguments: pass alias and the configuration by keyword", len(args))
	}
	b := pt.args.newBound()
	aliasOK := true // a bad alias is reported; it is no duplicate of the default
	for _, kv := range kwargs {
		key, v := string(kv[0].(starlark.String)), kv[1]
		if key != argAlias {
			pt.args.bind(p, b, key, v)
			continue
		}
		if v == starlark.None {
			continue
		}
		alias, err := wantString(v)
		pc.Alias = alias
		switch {
		case err != nil:
			p.addArg(argAlias, err)
			aliasOK = false
		case alias == "":
			p.add("alias is empty: leave alias out for the default configuration of %s", pt.name)
			aliasOK = false
		case !validName(alias):
			p.add(`invalid alias %q: use letters, digits, "_" and "-"`, alias)
			aliasOK = false
		}
	}
	pt.args.finish(p, b)
	// The engine configures the provider before it plans: every argument
	// must be known now.
	for _, name := range pt.args.attrNames {
		if refs := spec.Refs(b.values[name]); len(refs) > 0 {
			p.add("argument %q: the reference %s is only known after apply, and a provider's configuration must be known when ferry plans: pass a plain value (var() reads one from --var or the environment)", name, refs[0])
		}
	}
	pc.Args = b.values

	pv := &providerValue{name: pt.name, alias: pc.Alias, key: pc.Key()}
	if first, dup := r.providers[pv.key]; dup && aliasOK {
		hint := ""
		if pc.Alias == "" {
			hint = fmt.Sprintf(`: give this one an alias, as %s(alias = "eu", ...), and pass it to the resources that use it as provider = ...`, pt.args.fn)
		}
		p.addPlain("duplicate provider configuration %s (first declared at %s)%s", pv.key, first, hint)
	} else if aliasOK {
		r.providers[pv.key] = pc.Pos
	}
	if !p.empty() {
		if err := p.report(r, thread); err != nil {
			return nil, err
		}
		return pv, nil
	}
	r.cfg.Providers = append(r.cfg.Providers, pc)
	return pv, nil
}

// finishProviders reports, once per provider, the resources that use the
// default configuration of a provider that needs one (it has required
// arguments) when no such configuration is declared: the engine would
// configure it with its defaults, and fail. It runs after the whole
// configuration has been evaluated, since the declaration may come later.
func (r *run) finishProviders() {
	declared := map[string]bool{}
	for _, pc := range r.cfg.Providers {
		declared[pc.Key()] = true
	}
	reported := map[string]bool{}
	for _, res := range r.cfg.Resources {
		name := res.ProviderKey()
		pt := r.providerTypes[name]
		if res.Provider != "" || pt == nil || declared[name] || reported[name] {
			continue
		}
		var required []string
		for _, a := range pt.args.schema.Attrs {
			if a.Required {
				required = append(required, a.Name)
			}
		}
		if len(required) == 0 {
			continue
		}
		reported[name] = true
		_ = r.report(spec.Errorf(res.Pos, fmt.Sprintf("%s uses the default configuration of the %s provider, which is not declared and needs %s: declare it with %s.provider(%s = ...), or pass provider = ... to the resource",
			res.Addr, name, strings.Join(required, ", "), name, required[0])))
	}
}

// providerArg reads provider = p of a resource: a configuration of the
// resource's own provider, whose key it returns.
func (rt *resourceType) providerArg(p *callProblems, v starlark.Value) string {
	pv, ok := v.(*providerValue)
	switch {
	case !rt.configurable:
		p.add("argument \"provider\": the %s provider takes no configuration: leave provider out", rt.provider)
	case !ok:
		p.add("argument \"provider\": got %s, want a configuration of %s made by %s.provider(...)", v.Type(), rt.provider, rt.provider)
	case pv.name != rt.provider:
		p.add("argument \"provider\": got the configuration %s of the %s provider; %s belongs to %s: pass a configuration made by %s.provider(...)", pv.key, pv.name, rt.schema.Type, rt.provider, rt.provider)
	default:
		return pv.key
	}
	return ""
}

// providerValue is what NAME.provider(...) returns: p.name is the
// provider ("aws"), p.alias the alias (None for the default
// configuration).
type providerValue struct {
	name  string
	alias string
	key   string // spec.ProviderKey(name, alias)
}

var (
	_ starlark.HasAttrs   = (*providerValue)(nil)
	_ starlark.Comparable = (*providerValue)(nil)
)

func (v *providerValue) String() string        { return "<provider " + v.key + ">" }
func (v *providerValue) Type() string          { return "provider" }
func (v *providerValue) Freeze()               {} // immutable
func (v *providerValue) Truth() starlark.Bool  { return starlark.True }
func (v *providerValue) Hash() (uint32, error) { return starlark.String(v.key).Hash() }

func (v *providerValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return compareByIdentity(op, v.key, y.(*providerValue).key, v.Type())
}

var providerAttrs = []string{"alias", "name"}

func (v *providerValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "name":
		return starlark.String(v.name), nil
	case "alias":
		if v.alias == "" {
			return starlark.None, nil
		}
		return starlark.String(v.alias), nil
	}
	msg := fmt.Sprintf("provider %s has no attribute %q", v.key, name)
	if s := spec.Nearest(name, providerAttrs); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s; valid attributes: %s", msg, strings.Join(providerAttrs, ", "))
}

func (v *providerValue) AttrNames() []string { return providerAttrs }

func (v *providerValue) passedItself() string {
	return fmt.Sprintf("got the provider configuration %s; pass it to its resources as provider = ...", v.key)
}

// providerModule is the module of one provider: its resource builtins
// and, for a provider that takes a configuration, NAME.provider. Unlike
// a plain module it explains a misspelt member and a provider that takes
// no configuration.
type providerModule struct {
	name    string
	members starlark.StringDict // "provider" among them when it takes a configuration
}

var _ starlark.HasAttrs = (*providerModule)(nil)

func (m *providerModule) String() string        { return fmt.Sprintf("<module %q>", m.name) }
func (m *providerModule) Type() string          { return "module" }
func (m *providerModule) Freeze()               {} // its members are builtins
func (m *providerModule) Truth() starlark.Bool  { return starlark.True }
func (m *providerModule) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: module") }

func (m *providerModule) Attr(name string) (starlark.Value, error) {
	if v, ok := m.members[name]; ok {
		return v, nil
	}
	if name == providerMember {
		return nil, fmt.Errorf("%s.provider does not exist: the %s provider takes no configuration", m.name, m.name)
	}
	msg := fmt.Sprintf("%s has no member %q", m.name, name)
	if s := spec.Nearest(name, m.AttrNames()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s; members: %s", msg, strings.Join(m.AttrNames(), ", "))
}

func (m *providerModule) AttrNames() []string {
	names := m.members.Keys()
	sort.Strings(names)
	return names
}
