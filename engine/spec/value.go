package spec

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// Values in ferry are plain JSON trees, exactly the shapes json.Decoder
// produces with UseNumber: nil, bool, string, json.Number, []any,
// map[string]any. Three more leaf types may appear before apply:
//
//   - Ref: a reference to another resource's attribute, written by the user
//     as `a.id`. A Ref is a dependency edge.
//   - Format: a string built from literal text and references, written as
//     format("http://{}:8080", web.public_ip) (format.go); a dependency on
//     each of its references.
//   - Unknown: a value that is only known after apply ("(known after apply)").
//
// Keeping numbers as json.Number makes values compare equal with
// reflect.DeepEqual after a JSON round trip, which plan diffing relies on.

// Ref points at an attribute of another resource.
type Ref struct {
	Addr string // resource address, e.g. "null.resource.a"
	Attr string // attribute path, e.g. "id" or "triggers.v"
}

func (r Ref) String() string { return r.Addr + "." + r.Attr }

// Unknown marks a value known only after apply. Source, when set, names the
// reference it stands for.
type Unknown struct{ Source string }

// Encoded forms, used in plan files: {"$ref": "null.resource.a.id"},
// {"$unknown": "null.resource.a.id"} and {"$format": {"template": ...,
// "args": [...]}}. User data never produces a map whose only key starts
// with "$" because lang rejects every dict key that starts with "$".
const (
	refKey     = "$ref"
	unknownKey = "$unknown"
)

// Number converts an int64 into the canonical number form.
func Number(i int64) json.Number { return json.Number(strconv.FormatInt(i, 10)) }

// Float converts a float64 into the canonical number form.
func Float(f float64) json.Number { return json.Number(strconv.FormatFloat(f, 'g', -1, 64)) }

// Encode turns a value into a JSON-marshalable tree, writing Ref,
// Format and Unknown in their encoded forms.
func Encode(v any) any {
	switch v := v.(type) {
	case Ref:
		return map[string]any{refKey: v.String()}
	case Unknown:
		return map[string]any{unknownKey: v.Source}
	case Format:
		return encodeFormat(v)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = Encode(e)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = Encode(e)
		}
		return out
	default:
		return v
	}
}

// Decode reverses Encode on a tree decoded with UseNumber.
func Decode(v any) any {
	switch v := v.(type) {
	case []any:
		for i, e := range v {
			v[i] = Decode(e)
		}
		return v
	case map[string]any:
		if len(v) == 1 {
			if s, ok := v[refKey].(string); ok {
				if addr, attr, ok := SplitAttr(s); ok {
					return Ref{Addr: addr, Attr: attr}
				}
			}
			if s, ok := v[unknownKey].(string); ok {
				return Unknown{Source: s}
			}
			if f, ok := decodeFormat(v[formatKey]); ok {
				return f
			}
		}
		for k, e := range v {
			v[k] = Decode(e)
		}
		return v
	default:
		return v
	}
}

// DecodeMap is Decode for an attribute map.
func DecodeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return Decode(m).(map[string]any)
}

// EncodeMap is Encode for an attribute map.
func EncodeMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return Encode(m).(map[string]any)
}

// Refs lists the references in v, those inside a Format included, sorted
// and without duplicates.
func Refs(v any) []Ref {
	seen := map[Ref]bool{}
	walk(v, func(x any) {
		if r, ok := x.(Ref); ok {
			seen[r] = true
		}
	})
	out := make([]Ref, 0, len(seen))
	for r := range seen {
		out = append(out, r)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].String() < out[j].String() })
	return out
}

// HasUnknown reports whether v contains an Unknown, a Ref or a Format:
// whether it is not final yet.
func HasUnknown(v any) bool {
	found := false
	walk(v, func(x any) {
		switch x.(type) {
		case Unknown, Ref, Format:
			found = true
		}
	})
	return found
}

func walk(v any, fn func(any)) {
	fn(v)
	switch v := v.(type) {
	case []any:
		for _, e := range v {
			walk(e, fn)
		}
	case map[string]any:
		for _, e := range v {
			walk(e, fn)
		}
	case Format:
		for _, e := range v.Args {
			walk(e, fn)
		}
	}
}

// Resolve returns a copy of v with every Ref replaced by lookup(ref). When
// lookup reports ok=false the Ref becomes Unknown{Source: ref}. A Format
// becomes its string once every reference in it resolves to a value
// without unknowns, and Unknown{Source: the format as Render shows it}
// while any does not.
func Resolve(v any, lookup func(Ref) (any, bool)) any {
	switch v := v.(type) {
	case Ref:
		if x, ok := lookup(v); ok {
			return x
		}
		return Unknown{Source: v.String()}
	case Format:
		return resolveFormat(v, lookup)
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = Resolve(e, lookup)
		}
		return out
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = Resolve(e, lookup)
		}
		return out
	default:
		return v
	}
}

// Lookup follows a dotted attribute path ("triggers.v") into attrs.
func Lookup(attrs map[string]any, path string) (any, bool) {
	var cur any = attrs
	start := 0
	for i := 0; i <= len(path); i++ {
		if i < len(path) && path[i] != '.' {
			continue
		}
		m, ok := cur.(map[string]any)
		if !ok {
			return nil, false
		}
		cur, ok = m[path[start:i]]
		if !ok {
			return nil, false
		}
		start = i + 1
	}
	return cur, true
}

// Render formats v for humans: JSON-like, with strings quoted, Unknown as
// (known after apply) wherever it appears, Ref as the reference itself and
// Format as the call that made it: format("http://{}:8080", a.b.ip).
func Render(v any) string {
	var b strings.Builder
	render(&b, v)
	return b.String()
}

func render(b *strings.Builder, v any) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case Unknown:
		b.WriteString("(known after apply)")
	case Ref:
		b.WriteString(v.String())
	case Format:
		b.WriteString("format(")
		b.WriteString(strconv.Quote(v.Template))
		for _, a := range v.Args {
			b.WriteString(", ")
			render(b, a)
		}
		b.WriteByte(')')
	case string:
		b.WriteString(strconv.Quote(v))
	case json.Number:
		b.WriteString(v.String())
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case []any:
		b.WriteByte('[')
		for i, e := range v {
			if i > 0 {
				b.WriteString(", ")
			}
			render(b, e)
		}
		b.WriteByte(']')
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		b.WriteByte('{')
		for i, k := range keys {
			if i > 0 {
				b.WriteString(", ")
			}
			b.WriteString(strconv.Quote(k))
			b.WriteString(": ")
			render(b, v[k])
		}
		b.WriteByte('}')
	default:
		fmt.Fprint(b, v)
	}
}

// Clone deep-copies a value tree (maps, lists and a Format's arguments;
// other leaves are immutable),
// so that the copy shares nothing mutable with v. A nil map or list stays
// nil. Every package that hands values across a boundary (providers,
// lang, the engine) copies with it.
func Clone(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return map[string]any(nil)
		}
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = Clone(e)
		}
		return out
	case []any:
		if v == nil {
			return []any(nil)
		}
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = Clone(e)
		}
		return out
	case Format:
		if v.Args != nil {
			v.Args = Clone(v.Args).([]any)
		}
		return v
	default:
		return v
	}
}

// CloneMap is Clone for an attribute map.
func CloneMap(m map[string]any) map[string]any {
	if m == nil {
		return nil
	}
	return Clone(m).(map[string]any)
}
