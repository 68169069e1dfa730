package lang

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// formatBuiltins provides format(template, *values): a string built from
// literal text and values that may be known only after apply, such as
// format("http://{}:8080", web.public_ip). Each "{}" in template takes
// the next value; "{{" and "}}" are literal braces. A value is a string,
// an int or a float (written as JSON writes it), a reference, or another
// format() value (spliced in). When every value is known, the result is
// simply a string; otherwise it is a format value (spec.Format) that
// resolves at apply, so a URL, a CIDR or a DNS name needs no second plan.
//
// A mistake in a format() call (a bad template, a count of values that
// does not match its placeholders, a value that cannot be written into a
// string) stops evaluation, like a failing str.format.
func formatBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"format": starlark.NewBuiltin("format", formatString)}, nil
}

// formatDoc documents format(); its arguments are positional (the
// template, then one value per {}), read by formatString itself.
var formatDoc = builtinDoc{name: "format", returns: "a string, or a string known after apply",
	params: []param{
		{name: "template", required: true, doc: `Literal text with "{}" where each value goes; "{{" and "}}" are literal braces.`},
		{name: "*values", doc: "One value per {}: a string, an int, a float, a reference or another format() value."},
	},
	summary: `A string built from text and values that may be known only after apply: format("http://{}:8080", web.public_ip). It resolves at apply, so a URL, a CIDR or a DNS name needs no second plan.`}

func formatString(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	fail := func(format string, a ...any) (starlark.Value, error) {
		return nil, r.callerError(thread, "format: "+format, a...)
	}
	if len(kwargs) > 0 {
		return fail("unexpected argument %q: format takes the template and then the values in order, one per {}", string(kwargs[0][0].(starlark.String)))
	}
	if len(args) == 0 {
		return fail(`missing the template: write format("http://{}:8080", web.public_ip)`)
	}
	tmpl, ok := args[0].(starlark.String)
	if !ok {
		if what, ok := opaque(args[0]); ok {
			return fail("the template is %s, whose value is only known after apply: pass a plain string with {} where the values go", what)
		}
		return fail("the template is a %s, want string", args[0].Type())
	}
	if what, ok := formattedOpaque(string(tmpl)); ok {
		return fail("the template was built from %s, whose value is only known after apply: write {} in the template and pass the value after it", what)
	}
	parts, err := spec.SplitFormat(string(tmpl))
	if err != nil {
		return fail("template %q: %v", string(tmpl), err)
	}
	values := args[1:]
	if len(values) != len(parts)-1 {
		return fail("template %q has %s, but %s passed", string(tmpl), plural(len(parts)-1, "placeholder {}", "placeholders {}"), plural(len(values), "value was", "values were"))
	}

	// plain is the text when every value is known; f.Template keeps the
	// known parts as literal text and {} for each reference.
	var plain, template strings.Builder
	var refs []any
	literal := func(s string) {
		plain.WriteString(s)
		template.WriteString(spec.EscapeFormat(s))
	}
	literal(parts[0])
	for i, v := range values {
		switch v := v.(type) {
		case *reference:
			template.WriteString("{}")
			refs = append(refs, v.ref)
		case *formatValue:
			// Its template is in the same syntax: spliced in, its escapes
			// stay escapes and its {} take its references.
			template.WriteString(v.f.Template)
			refs = append(refs, spec.Clone(v.f.Args).([]any)...)
		case starlark.String:
			if what, ok := formattedOpaque(string(v)); ok {
				return fail("value %d: a string was built from %s, whose value is only known after apply: pass it to format() itself", i+1, what)
			}
			literal(string(v))
		case starlark.Int, starlark.Float:
			x, err := toValue(v)
			if err != nil {
				return fail("value %d: %s", i+1, err.msg)
			}
			literal(spec.FormatText(x))
		default:
			if msg, ok := passedItself(v); ok {
				return fail("value %d: %s", i+1, msg)
			}
			return fail("value %d: got %s; want a string, an int, a float, a reference such as web.public_ip or a format() value (str() writes other values as text)", i+1, v.Type())
		}
		literal(parts[i+1])
	}
	if len(refs) == 0 {
		return starlark.String(plain.String()), nil
	}
	return &formatValue{f: spec.Format{Template: template.String(), Args: refs}}, nil
}

// plural writes n with the singular or plural noun.
func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// formatMarker starts the text of a format value turned into a string
// (str(), %, "".format()), so that toValue can recognise it.
const formatMarker = "<format("

// formatValue is what format() returns when some value is known only
// after apply: a string-valued placeholder. Like a reference, it can be
// passed as an argument (resources, module args, outputs, ssh()) but not
// computed with.
type formatValue struct{ f spec.Format }

var (
	_ starlark.HasAttrs   = (*formatValue)(nil)
	_ starlark.HasBinary  = (*formatValue)(nil)
	_ starlark.Comparable = (*formatValue)(nil)
)

// String is <format("http://{}:8080", aws.instance.web.public_ip)>.
func (v *formatValue) String() string        { return "<" + v.f.String() + ">" }
func (v *formatValue) Type() string          { return "format" }
func (v *formatValue) Freeze()               {} // immutable
func (v *formatValue) Truth() starlark.Bool  { return starlark.True }
func (v *formatValue) Hash() (uint32, error) { return starlark.String(v.f.String()).Hash() }

func (v *formatValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return compareByIdentity(op, v.f.String(), y.(*formatValue).f.String(), v.Type())
}

// Attr refuses every attribute: the value is a string known only after
// apply, with no fields or methods to use now.
func (v *formatValue) Attr(name string) (starlark.Value, error) {
	return nil, fmt.Errorf("%s has no .%s: it is a string known only after apply; pass it as a whole, or write what you need into its template", v.f, name)
}

func (v *formatValue) AttrNames() []string { return nil }

// Binary refuses concatenation and arithmetic.
func (v *formatValue) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	return nil, fmt.Errorf("cannot use %s with %s: its value is only known after apply; write the other parts into its template instead", v.f, op)
}
