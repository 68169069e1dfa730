package nix

import (
	"encoding/json"
	"fmt"
	"math"
	"path/filepath"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// unknownMarker ends the message of the throw that stands for a value known
// only after apply; Evaluate recognises it to return ErrKnownAfterApply.
const unknownMarker = "is known only after apply"

// nixString quotes s as a Nix string literal. Besides the usual escapes, `$`
// is escaped so that `${` never starts an interpolation.
func nixString(s string) string {
	var b strings.Builder
	b.Grow(len(s) + 2)
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '"', '\\', '$':
			b.WriteByte('\\')
			b.WriteRune(r)
		case '\n':
			b.WriteString(`\n`)
		case '\r':
			b.WriteString(`\r`)
		case '\t':
			b.WriteString(`\t`)
		default:
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// pathLiteral matches what Nix accepts as an absolute path literal.
var pathLiteral = regexp.MustCompile(`^(/[A-Za-z0-9._+-]+)+$`)

// nixPath writes an absolute path as a Nix path value: a literal when Nix can
// parse it as one, otherwise /. + "the path" (spaces and other characters).
func nixPath(p string) string {
	p = filepath.Clean(p)
	if pathLiteral.MatchString(p) {
		return p
	}
	return "(/. + " + nixString(p) + ")"
}

// nixValue writes v, a value of engine/spec's model (or plain Go values of
// the same shapes), as a Nix expression. Maps become attribute sets with
// sorted, quoted names; spec.Unknown and spec.Ref become a throw that says
// the value is known only after apply, so evaluation fails only if a module
// actually uses it. indent is the indentation of the line v starts on.
func nixValue(v any, indent string) string {
	var b strings.Builder
	writeNixValue(&b, v, indent)
	return b.String()
}

func writeNixValue(b *strings.Builder, v any, indent string) {
	switch v := v.(type) {
	case nil:
		b.WriteString("null")
	case bool:
		b.WriteString(strconv.FormatBool(v))
	case string:
		b.WriteString(nixString(v))
	case json.Number:
		b.WriteString(nixNumber(v))
	case int:
		b.WriteString(nixInt(int64(v)))
	case int64:
		b.WriteString(nixInt(v))
	case int32:
		b.WriteString(nixInt(int64(v)))
	case float64:
		b.WriteString(nixFloat(v))
	case spec.Unknown:
		what := "a value"
		if v.Source != "" {
			what = "the value of " + v.Source
		}
		b.WriteString("(throw " + nixString("ferry: "+what+" "+unknownMarker+"; plan again after it exists") + ")")
	case spec.Ref:
		writeNixValue(b, spec.Unknown{Source: v.String()}, indent)
	case []any:
		if len(v) == 0 {
			b.WriteString("[ ]")
			return
		}
		inner := indent + "  "
		b.WriteString("[\n")
		for _, e := range v {
			b.WriteString(inner)
			writeNixValue(b, e, inner) // every form is self-delimiting
			b.WriteByte('\n')
		}
		b.WriteString(indent + "]")
	case map[string]any:
		if len(v) == 0 {
			b.WriteString("{ }")
			return
		}
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		inner := indent + "  "
		b.WriteString("{\n")
		for _, k := range keys {
			b.WriteString(inner + nixString(k) + " = ")
			writeNixValue(b, v[k], inner)
			b.WriteString(";\n")
		}
		b.WriteString(indent + "}")
	default:
		writeNixValue(b, normalize(v), indent)
	}
}

// normalize turns other Go values (typed slices and maps, structs, other
// numbers) into the JSON model through a JSON round trip.
func normalize(v any) any {
	rv := reflect.ValueOf(v)
	switch rv.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return json.Number(strconv.FormatInt(rv.Int(), 10))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return json.Number(strconv.FormatUint(rv.Uint(), 10))
	case reflect.Float32:
		return rv.Float()
	}
	data, err := json.Marshal(spec.Encode(v))
	if err != nil {
		return spec.Unknown{Source: fmt.Sprintf("a %T that cannot be written as JSON (%v)", v, err)}
	}
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.UseNumber()
	var out any
	if err := dec.Decode(&out); err != nil {
		return spec.Unknown{Source: fmt.Sprintf("a %T (%v)", v, err)}
	}
	return spec.Decode(out)
}

func nixInt(i int64) string {
	if i < 0 {
		if i == math.MinInt64 {
			// -9223372036854775808 does not parse as a literal.
			return "(-9223372036854775807 - 1)"
		}
		return "(-" + strconv.FormatInt(-i, 10) + ")"
	}
	return strconv.FormatInt(i, 10)
}

func nixNumber(n json.Number) string {
	if i, err := strconv.ParseInt(string(n), 10, 64); err == nil {
		return nixInt(i)
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil {
		return nixString(string(n))
	}
	return nixFloat(f)
}

// nixFloat writes f as a Nix float literal, which needs digits on both sides
// of a dot ("1.0", "1.5e+20").
func nixFloat(f float64) string {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return "(throw " + nixString("ferry: "+strconv.FormatFloat(f, 'g', -1, 64)+" cannot be written in Nix") + ")"
	}
	neg := f < 0
	if neg {
		f = -f
	}
	s := strconv.FormatFloat(f, 'e', -1, 64) // d[.ddd]e±dd
	mant, exp, _ := strings.Cut(s, "e")
	if !strings.Contains(mant, ".") {
		mant += ".0"
	}
	if exp == "+00" {
		s = mant
	} else {
		s = mant + "e" + exp
	}
	if neg {
		return "(-" + s + ")"
	}
	return s
}
