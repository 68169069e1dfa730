package aws

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// arguments returns the arguments of schema s found in m, defaults
// applied, as lang passes them; spec.Unknown passes unchecked. m is a
// configuration, or planned attributes (planned = true: computed
// attributes may be there too). An optional argument without a default
// that m leaves out stays out. Errors name the resource and the attribute
// and never show a sensitive value.
func arguments(s spec.Schema, addr string, m map[string]any, planned bool) (map[string]any, error) {
	for _, name := range slices.Sorted(maps.Keys(m)) {
		if a, ok := s.Attr(name); !ok || (isComputedOnly(a) && !planned) {
			return nil, fmt.Errorf("%s: unknown argument %q; %s takes %s", addr, name, s.Type, strings.Join(argumentNames(s), ", "))
		}
	}
	out := map[string]any{}
	for _, a := range s.Attrs {
		if isComputedOnly(a) {
			continue
		}
		v, set := m[a.Name]
		if v == nil {
			switch {
			case a.Required:
				return nil, fmt.Errorf("%s: missing required argument %q", addr, a.Name)
			case a.Default != nil:
				v = spec.Clone(a.Default)
			case !set:
				continue
			}
		}
		if err := checkKind(a, v); err != nil {
			return nil, fmt.Errorf("%s: argument %q %v", addr, a.Name, err)
		}
		out[a.Name] = v
	}
	return out, nil
}

// knownArguments is arguments for an apply, where nothing may be unknown
// but an optional computed argument the configuration left out (planned
// as unknown: the create chooses it), which is left out.
func knownArguments(s spec.Schema, verb, addr string, m map[string]any) (map[string]any, error) {
	args, err := arguments(s, addr, m, true)
	if err != nil {
		return nil, fmt.Errorf("%s %w", verb, err)
	}
	for _, name := range slices.Sorted(maps.Keys(args)) {
		if a, _ := s.Attr(name); a.Computed && spec.HasUnknown(args[name]) {
			delete(args, name) // left out of the configuration: the create chooses it
			continue
		}
		if spec.HasUnknown(args[name]) {
			return nil, fmt.Errorf("%s %s: argument %q is still unknown at apply time; run ferry plan again", verb, addr, name)
		}
	}
	return args, nil
}

func isComputedOnly(a spec.Attr) bool { return a.Computed && !a.Optional }

func argumentNames(s spec.Schema) []string {
	var out []string
	for _, a := range s.Attrs {
		if !isComputedOnly(a) {
			out = append(out, a.Name)
		}
	}
	return out
}

// checkKind says what is wrong with v as a value of a, nil if nothing.
func checkKind(a spec.Attr, v any) error {
	if v == nil || spec.HasUnknown(v) {
		return nil
	}
	ok := true
	switch a.Kind {
	case spec.KindString:
		_, ok = v.(string)
	case spec.KindBool:
		_, ok = v.(bool)
	case spec.KindNumber:
		_, ok = v.(json.Number)
	case spec.KindMap:
		_, ok = v.(map[string]any)
	case spec.KindList:
		_, ok = v.([]any)
	}
	if !ok {
		return fmt.Errorf("must be a %s, got %s", a.Kind, describe(a, v))
	}
	return nil
}

// describe shows v in an error, or only its kind when a is sensitive.
func describe(a spec.Attr, v any) string {
	if !a.Sensitive {
		return spec.Render(v)
	}
	switch v.(type) {
	case string:
		return "a string"
	case []any:
		return "a list"
	case map[string]any:
		return "a dict"
	default:
		return fmt.Sprintf("a %T", v)
	}
}

// str returns m[name] as a string, "" when absent, null or unknown.
func str(m map[string]any, name string) string {
	s, _ := m[name].(string)
	return s
}

// stringMap reads a map of strings (tags): values must be strings.
func stringMap(addr, name string, v any) (map[string]string, error) {
	if v == nil {
		return map[string]string{}, nil
	}
	m, ok := v.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("%s: argument %q must be a dict of strings, got %s", addr, name, spec.Render(v))
	}
	out := make(map[string]string, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		s, ok := m[k].(string)
		if !ok {
			return nil, fmt.Errorf("%s: argument %q: %q = %s must be a string", addr, name, k, spec.Render(m[k]))
		}
		out[k] = s
	}
	return out, nil
}

// resourceName is the name part of an address: "deploy" of
// "aws.key_pair.deploy".
func resourceName(typ, addr string) string {
	if name, ok := strings.CutPrefix(addr, typ+"."); ok && name != "" {
		return name
	}
	return addr
}
