package lang

import (
	"encoding/json"
	"fmt"
	"math"
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// maxDepth bounds how deeply values may nest; deeper usually means a list
// that contains itself.
const maxDepth = 64

// convertError is a problem with a value, found at path inside it
// (`["v"][0]`, empty for the value itself).
type convertError struct {
	path string
	msg  string
}

func (e *convertError) Error() string {
	if e.path == "" {
		return e.msg
	}
	return e.path + ": " + e.msg
}

// under prefixes the path of e with one more step outward.
func (e *convertError) under(step string) *convertError {
	e.path = step + e.path
	return e
}

// toValue converts a Starlark value into ferry's value model: nil, bool,
// json.Number, string, []any, map[string]any, spec.Ref and spec.Format.
func toValue(v starlark.Value) (any, *convertError) {
	return convert(v, 0)
}

func convert(v starlark.Value, depth int) (any, *convertError) {
	if depth > maxDepth {
		return nil, &convertError{msg: fmt.Sprintf("value nested more than %d levels deep (does it contain itself?)", maxDepth)}
	}
	switch v := v.(type) {
	case starlark.NoneType:
		return nil, nil
	case starlark.Bool:
		return bool(v), nil
	case starlark.Int:
		if i, ok := v.Int64(); ok {
			return spec.Number(i), nil
		}
		return json.Number(v.String()), nil
	case starlark.Float:
		f := float64(v)
		if math.IsNaN(f) || math.IsInf(f, 0) {
			return nil, &convertError{msg: fmt.Sprintf("got float %s; only finite numbers can be stored", v)}
		}
		return spec.Float(f), nil
	case starlark.String:
		if what, ok := formattedOpaque(string(v)); ok {
			return nil, &convertError{msg: builtFromOpaque(what)}
		}
		return string(v), nil
	case *reference:
		return v.ref, nil
	case *formatValue:
		return spec.Clone(v.f), nil
	case *resourceValue, *machineValue, *targetValue, *moduleValue, *keyValue, *checkValue, *providerValue, *lifecycleValue:
		msg, _ := passedItself(v)
		return nil, &convertError{msg: msg}
	case *starlark.List:
		out := make([]any, v.Len())
		for i := range out {
			x, err := convert(v.Index(i), depth+1)
			if err != nil {
				return nil, err.under(fmt.Sprintf("[%d]", i))
			}
			out[i] = x
		}
		return out, nil
	case starlark.Tuple:
		out := make([]any, len(v))
		for i, e := range v {
			x, err := convert(e, depth+1)
			if err != nil {
				return nil, err.under(fmt.Sprintf("[%d]", i))
			}
			out[i] = x
		}
		return out, nil
	case *starlark.Dict:
		out := make(map[string]any, v.Len())
		for key, val := range v.Entries() {
			k, ok := key.(starlark.String)
			if !ok {
				return nil, &convertError{msg: fmt.Sprintf("dict key %s is a %s; keys must be strings", key, key.Type())}
			}
			if strings.HasPrefix(string(k), "$") {
				return nil, &convertError{msg: fmt.Sprintf("dict key %q starts with \"$\", which ferry reserves", string(k))}
			}
			if what, ok := formattedOpaque(string(k)); ok {
				return nil, &convertError{msg: fmt.Sprintf("dict key %q was built from %s, whose value is only known after apply; keys must be known when the configuration loads", string(k), what)}
			}
			x, err := convert(val, depth+1)
			if err != nil {
				return nil, err.under(fmt.Sprintf("[%q]", string(k)))
			}
			out[string(k)] = x
		}
		return out, nil
	default:
		return nil, &convertError{msg: fmt.Sprintf("got %s; want None, bool, int, float, string, list, tuple, dict, a reference such as a.id or a format() value", v.Type())}
	}
}

// builtFromOpaque is the message about a string built (with str(), % or
// "".format()) from what, a value known only after apply.
func builtFromOpaque(what string) string {
	if ref, ok := strings.CutPrefix(what, "the reference "); ok {
		return fmt.Sprintf("a string was built from the reference %s; references are opaque until apply, so pass the reference itself, or build the string with format(\"...{}...\", reference)", ref)
	}
	return fmt.Sprintf("a string was built from %s, whose value is only known after apply: pass the format() value itself, or nest it in another: format(\"{}/path\", f)", what)
}

// formattedOpaque finds in s the text of a value known only after apply
// (a reference or a format value) turned into a string, and describes
// it: "the reference null.resource.a.id" or "format(...)".
func formattedOpaque(s string) (string, bool) {
	if ref, ok := formattedRef(s); ok {
		return "the reference " + ref, true
	}
	i := strings.Index(s, formatMarker)
	if i < 0 {
		return "", false
	}
	rest := s[i+1:]
	if j := strings.Index(rest, ")>"); j >= 0 {
		return rest[:j+1], true
	}
	return "a format() value", true
}

// formattedRef finds the text a reference's String method produces inside
// s: the only way a reference ends up in a string is str(), % or format().
func formattedRef(s string) (string, bool) {
	i := strings.Index(s, refMarker)
	if i < 0 {
		return "", false
	}
	rest := s[i+len(refMarker):]
	j := strings.IndexByte(rest, '>')
	if j < 0 {
		return "", false
	}
	return rest[:j], true
}

// kindName is how a kind is called in messages, in Starlark terms.
func kindName(k spec.Kind) string {
	switch k {
	case spec.KindNumber:
		return "int or float"
	case spec.KindDuration:
		return `duration string such as "30s"`
	case spec.KindMap:
		return "dict"
	case spec.KindAny:
		return "value"
	default:
		return string(k)
	}
}

// checkKind reports, as a message, why v cannot be an argument of kind
// want; "" when it can. A reference is accepted when the attribute it
// points to has a compatible kind: its value is only known after apply.
func checkKind(want spec.Kind, v starlark.Value) string {
	if ref, ok := v.(*reference); ok {
		if kindsCompatible(ref.kind, want) {
			return ""
		}
		return fmt.Sprintf("got reference %s (%s), want %s", ref.ref, kindName(ref.kind), kindName(want))
	}
	if f, ok := v.(*formatValue); ok {
		if kindsCompatible(spec.KindString, want) {
			return ""
		}
		return fmt.Sprintf("got %s (string), want %s", f.f, kindName(want))
	}
	ok := false
	switch want {
	case spec.KindAny:
		return ""
	case spec.KindString:
		_, ok = v.(starlark.String)
	case spec.KindNumber:
		switch v.(type) {
		case starlark.Int, starlark.Float:
			ok = true
		}
	case spec.KindBool:
		_, ok = v.(starlark.Bool)
	case spec.KindDuration:
		s, isString := v.(starlark.String)
		if isString {
			if _, isOpaque := formattedOpaque(string(s)); isOpaque {
				return "" // toValue explains this better than a failed parse
			}
			if _, err := time.ParseDuration(string(s)); err != nil {
				return fmt.Sprintf("%s is not a duration: write one such as \"300ms\", \"1.5h\" or \"2h45m\"", s)
			}
			return ""
		}
	case spec.KindMap:
		_, ok = v.(*starlark.Dict)
	case spec.KindList:
		switch v.(type) {
		case *starlark.List, starlark.Tuple:
			ok = true
		}
	}
	if ok {
		return ""
	}
	return fmt.Sprintf("got %s, want %s", v.Type(), kindName(want))
}

// kindsCompatible reports whether a reference to an attribute of kind have
// may be passed where want is expected.
func kindsCompatible(have, want spec.Kind) bool {
	if have == want || have == spec.KindAny || want == spec.KindAny || have == "" {
		return true
	}
	isText := func(k spec.Kind) bool { return k == spec.KindString || k == spec.KindDuration }
	return isText(have) && isText(want)
}

// fromGo converts a Go value from a schema (a Default) into the value
// model. It returns a fresh copy, so each resource gets its own maps.
func fromGo(v any) (any, error) {
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return v, nil
	case int:
		return spec.Number(int64(v)), nil
	case int64:
		return spec.Number(v), nil
	case int32:
		return spec.Number(int64(v)), nil
	case float64:
		return spec.Float(v), nil
	case time.Duration:
		return v.String(), nil
	case []string:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = e
		}
		return out, nil
	case map[string]string:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = e
		}
		return out, nil
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			x, err := fromGo(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return out, nil
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			x, err := fromGo(e)
			if err != nil {
				return nil, err
			}
			out[k] = x
		}
		return out, nil
	default:
		return nil, fmt.Errorf("unsupported Go type %T", v)
	}
}

// passedItself explains what to do when a ferry object (a resource, a
// machine, a target or a module) is passed where a plain value is
// expected; ok is false for anything else.
func passedItself(v starlark.Value) (msg string, ok bool) {
	switch v := v.(type) {
	case *resourceValue:
		return v.passedItself(), true
	case *machineValue:
		return v.passedItself(), true
	case *targetValue:
		return v.passedItself(), true
	case *moduleValue:
		return v.passedItself(), true
	case *keyValue:
		return v.passedItself(), true
	case *checkValue:
		return v.passedItself(), true
	case *providerValue:
		return v.passedItself(), true
	case *lifecycleValue:
		return v.passedItself(), true
	}
	return "", false
}
