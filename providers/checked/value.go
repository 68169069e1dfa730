package checked

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/nixferry/ferry/engine/spec"
)

// JSONValue reports why v is not a value that state can hold: what
// json.Decoder with UseNumber produces (nil, bool, string, json.Number,
// []any, map[string]any) and nothing else, so that it survives a JSON
// round trip unchanged. Unknown and Ref are not state values either.
func JSONValue(v any) error { return jsonShape(v, false) }

// jsonShape is JSONValue, allowing spec.Unknown when planned is true
// (planned values may be known only after apply; references never).
func jsonShape(v any, planned bool) error {
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return nil
	case []any:
		for i, e := range v {
			if err := jsonShape(e, planned); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := jsonShape(v[k], planned); err != nil {
				return fmt.Errorf(".%s: %w", k, err)
			}
		}
		return nil
	case spec.Unknown:
		if planned {
			return nil
		}
		return fmt.Errorf("%s is not known", spec.Render(v))
	case spec.Ref:
		return fmt.Errorf("the reference %s is not a value", v)
	default:
		return fmt.Errorf("%T is not a JSON value (use string, bool, json.Number, []any or map[string]any)", v)
	}
}

// stringLeaves lists the strings inside v (and numbers, as written).
func stringLeaves(v any) []string {
	var out []string
	var walk func(any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case json.Number:
			out = append(out, v.String())
		case []any:
			for _, e := range v {
				walk(e)
			}
		case map[string]any:
			for _, e := range v {
				walk(e)
			}
		}
	}
	walk(v)
	return out
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
