package fakecloud

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// arguments returns the arguments of schema s in m, defaults applied, as
// lang would pass them; spec.Unknown passes unchecked. m is a
// configuration, or planned attributes (which hold computed ones too).
// Errors name the resource and the attribute, and never show a sensitive
// value.
func arguments(s spec.Schema, addr string, m map[string]any, planned bool) (map[string]any, error) {
	for _, name := range sortedKeys(m) {
		if a, ok := s.Attr(name); !ok || (a.Computed && !a.Optional && !planned) {
			return nil, fmt.Errorf("%s: unknown argument %q; %s takes %s", addr, name, s.Type, strings.Join(argumentNames(s), ", "))
		}
	}
	out := map[string]any{}
	for _, a := range s.Attrs {
		if a.Computed && !a.Optional {
			continue
		}
		v := m[a.Name]
		if v == nil {
			if a.Required {
				return nil, fmt.Errorf("%s: missing required argument %q", addr, a.Name)
			}
			v = spec.Clone(a.Default)
		}
		if err := checkKind(a, v); err != nil {
			return nil, fmt.Errorf("%s: argument %q %v", addr, a.Name, err)
		}
		out[a.Name] = v
	}
	return out, nil
}

// knownArguments is arguments for an apply, where nothing may be unknown.
func knownArguments(s spec.Schema, verb, addr string, m map[string]any) (map[string]any, error) {
	args, err := arguments(s, addr, m, true)
	if err != nil {
		return nil, fmt.Errorf("%s %w", verb, err)
	}
	for _, name := range sortedKeys(args) {
		if spec.HasUnknown(args[name]) {
			return nil, fmt.Errorf("%s %s: argument %q is still unknown at apply time; run ferry plan again", verb, addr, name)
		}
	}
	return args, nil
}

func argumentNames(s spec.Schema) []string {
	var out []string
	for _, a := range s.Attrs {
		if !a.Computed || a.Optional {
			out = append(out, a.Name)
		}
	}
	return out
}

// checkKind says what is wrong with v as a value of a, nil if nothing.
func checkKind(a spec.Attr, v any) error {
	if _, ok := v.(spec.Unknown); ok || v == nil {
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
	case spec.KindDuration:
		s, isString := v.(string)
		if !isString {
			ok = false
			break
		}
		if d, err := time.ParseDuration(s); err != nil || d < 0 {
			return fmt.Errorf("= %q is not a duration of zero or more; write a number with a unit, such as \"500ms\" or \"1m30s\"", s)
		}
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
	case bool:
		return "a bool"
	case json.Number:
		return "a number"
	case []any:
		return "a list"
	case map[string]any:
		return "a dict"
	default:
		return fmt.Sprintf("a %T", v)
	}
}
