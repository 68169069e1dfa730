package spec

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// Format is a string built from literal text and values known only after
// apply, written by the user as format("http://{}:8080", web.public_ip).
// It is a leaf of the value model, like Ref: a dependency on every
// reference in Args (Refs reports them), resolved by Resolve into the
// final string once they are all known.
//
// Template holds the literal text with one "{}" per argument; "{{" and
// "}}" stand for literal braces. lang writes every part known when the
// configuration loads into Template, so Args are references (Ref), one
// per placeholder, in order; a Format whose parts are all known is a
// plain string and never a Format.
type Format struct {
	Template string
	Args     []any
}

// String is how plans and messages show a format:
// format("http://{}:8080", aws.instance.web.public_ip).
func (f Format) String() string { return Render(f) }

// formatKey is the key of the encoded form, used in plan files:
// {"$format": {"template": "http://{}:8080", "args": [{"$ref": "..."}]}}.
const formatKey = "$format"

// SplitFormat parses a format template into its literal parts, escapes
// undone: a template with n placeholders gives n+1 parts, the text
// before, between and after them. Its errors say what to write instead.
func SplitFormat(template string) ([]string, error) {
	var parts []string
	var b strings.Builder
	for i := 0; i < len(template); i++ {
		c := template[i]
		switch {
		case c == '{' && i+1 < len(template) && template[i+1] == '{':
			b.WriteByte('{')
			i++
		case c == '}' && i+1 < len(template) && template[i+1] == '}':
			b.WriteByte('}')
			i++
		case c == '{' && i+1 < len(template) && template[i+1] == '}':
			parts = append(parts, b.String())
			b.Reset()
			i++
		case c == '{':
			end := strings.IndexByte(template[i:], '}')
			if end < 0 {
				return nil, fmt.Errorf("%q at offset %d has no closing \"}\": write \"{{\" for a literal \"{\"", "{", i)
			}
			return nil, fmt.Errorf("placeholder %q at offset %d: only {} is supported, filled by the values in order; write \"{{\" for a literal \"{\"", template[i:i+end+1], i)
		case c == '}':
			return nil, fmt.Errorf("single \"}\" at offset %d: write \"}}\" for a literal \"}\"", i)
		default:
			b.WriteByte(c)
		}
	}
	return append(parts, b.String()), nil
}

// EscapeFormat returns s as literal template text: "{" becomes "{{" and
// "}" becomes "}}".
func EscapeFormat(s string) string {
	if !strings.ContainsAny(s, "{}") {
		return s
	}
	s = strings.ReplaceAll(s, "{", "{{")
	return strings.ReplaceAll(s, "}", "}}")
}

// FormatText is how a value is written into the string a format builds:
// a string as it is, any other value (a number, a bool, null, a list, a
// map) as its compact JSON text, map keys sorted.
func FormatText(v any) string {
	switch v := v.(type) {
	case string:
		return v
	case json.Number:
		return v.String()
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	}
	data, err := json.Marshal(Encode(v))
	if err != nil {
		return fmt.Sprint(v)
	}
	return string(data)
}

// resolveFormat builds f's string once every argument resolves to a value
// without unknowns; until then it is Unknown with f as its source.
func resolveFormat(f Format, lookup func(Ref) (any, bool)) any {
	parts, err := SplitFormat(f.Template)
	if err != nil || len(parts) != len(f.Args)+1 {
		return Unknown{Source: f.String()} // not made by lang or Decode
	}
	var b strings.Builder
	b.WriteString(parts[0])
	for i, a := range f.Args {
		x := Resolve(a, lookup)
		if HasUnknown(x) {
			return Unknown{Source: f.String()}
		}
		b.WriteString(FormatText(x))
		b.WriteString(parts[i+1])
	}
	return b.String()
}

// encodeFormat is the encoded form of f.
func encodeFormat(f Format) any {
	args := make([]any, len(f.Args))
	for i, a := range f.Args {
		args[i] = Encode(a)
	}
	return map[string]any{formatKey: map[string]any{"template": f.Template, "args": args}}
}

// decodeFormat reads the encoded form of a Format: exactly the keys
// "template" (a valid template) and "args" (one value per placeholder).
// Anything else is not a Format, and stays a map.
func decodeFormat(v any) (Format, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 2 {
		return Format{}, false
	}
	template, ok := m["template"].(string)
	if !ok {
		return Format{}, false
	}
	args, ok := m["args"].([]any)
	if !ok {
		return Format{}, false
	}
	parts, err := SplitFormat(template)
	if err != nil || len(parts) != len(args)+1 {
		return Format{}, false
	}
	f := Format{Template: template}
	if len(args) > 0 {
		f.Args = make([]any, len(args))
		for i, a := range args {
			f.Args[i] = Decode(a)
		}
	}
	return f, true
}
