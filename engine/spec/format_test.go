package spec

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var (
	webIP   = Ref{Addr: "aws.instance.web", Attr: "public_ip"}
	webPort = Ref{Addr: "aws.instance.web", Attr: "tags.port"}
	url     = Format{Template: "http://{}:{}/{{x}}", Args: []any{webIP, webPort}}
)

func TestSplitFormat(t *testing.T) {
	tests := []struct {
		template string
		want     []string
		err      string
	}{
		{template: "", want: []string{""}},
		{template: "plain", want: []string{"plain"}},
		{template: "http://{}:8080", want: []string{"http://", ":8080"}},
		{template: "{}{}", want: []string{"", "", ""}},
		{template: "{{}} {} {{x}}", want: []string{"{} ", " {x}"}},
		{template: "{{{}}}", want: []string{"{", "}"}},
		{template: "a{", err: `"{" at offset 1 has no closing "}": write "{{" for a literal "{"`},
		{template: "{0}", err: `placeholder "{0}" at offset 0: only {} is supported, filled by the values in order; write "{{" for a literal "{"`},
		{template: "x{name}", err: `placeholder "{name}" at offset 1`},
		{template: "a}b", err: `single "}" at offset 1: write "}}" for a literal "}"`},
		{template: "{}}", err: `single "}" at offset 2`},
	}
	for _, tt := range tests {
		t.Run(tt.template, func(t *testing.T) {
			got, err := SplitFormat(tt.template)
			if tt.err != "" {
				if err == nil || !strings.HasPrefix(err.Error(), tt.err) {
					t.Fatalf("SplitFormat(%q) = %q, %v; want error %q", tt.template, got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parts (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEscapeFormat(t *testing.T) {
	for _, s := range []string{"", "plain", "{}", "}{", "{{x}}", "a{b}c{}"} {
		parts, err := SplitFormat(EscapeFormat(s))
		if err != nil || len(parts) != 1 || parts[0] != s {
			t.Errorf("SplitFormat(EscapeFormat(%q)) = %q, %v; want [%q]", s, parts, err, s)
		}
	}
}

func TestFormatText(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{"10.0.0.1", "10.0.0.1"},
		{"", ""},
		{json.Number("8080"), "8080"},
		{json.Number("1.5"), "1.5"},
		{true, "true"},
		{nil, "null"},
		{[]any{"a", json.Number("1")}, `["a",1]`},
		{map[string]any{"b": "x", "a": nil}, `{"a":null,"b":"x"}`},
	}
	for _, tt := range tests {
		if got := FormatText(tt.v); got != tt.want {
			t.Errorf("FormatText(%#v) = %q, want %q", tt.v, got, tt.want)
		}
	}
}

func TestFormatRefs(t *testing.T) {
	v := map[string]any{
		"url":  url,
		"also": []any{webIP, Format{Template: "{}-{}", Args: []any{Ref{Addr: "a.b.c", Attr: "id"}, Format{Template: "{}", Args: []any{webPort}}}}},
	}
	want := []Ref{{Addr: "a.b.c", Attr: "id"}, webIP, webPort}
	if diff := cmp.Diff(want, Refs(v)); diff != "" {
		t.Errorf("Refs (-want +got):\n%s", diff)
	}
	if !HasUnknown(map[string]any{"u": url}) {
		t.Error("HasUnknown of a value holding a Format = false, want true")
	}
	if !HasUnknown(Format{Template: "no args"}) {
		t.Error("HasUnknown(Format) = false, want true: it is not a final value")
	}
}

func TestFormatResolve(t *testing.T) {
	source := `format("http://{}:{}/{{x}}", aws.instance.web.public_ip, aws.instance.web.tags.port)`
	tests := []struct {
		name   string
		values map[Ref]any // what lookup finds
		want   any
	}{
		{"known", map[Ref]any{webIP: "10.0.0.1", webPort: json.Number("8080")}, "http://10.0.0.1:8080/{x}"},
		{"other kinds", map[Ref]any{webIP: true, webPort: []any{"a"}}, `http://true:["a"]/{x}`},
		{"unknown", nil, Unknown{Source: source}},
		{"partially known", map[Ref]any{webIP: "10.0.0.1"}, Unknown{Source: source}},
		{"resolves to an unknown", map[Ref]any{webIP: "10.0.0.1", webPort: Unknown{Source: "aws.instance.web.tags.port"}}, Unknown{Source: source}},
		{"resolves to a value holding an unknown", map[Ref]any{webIP: "10.0.0.1", webPort: []any{Unknown{}}}, Unknown{Source: source}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v := map[string]any{"url": url, "list": []any{url}}
			got := Resolve(v, func(r Ref) (any, bool) { x, ok := tt.values[r]; return x, ok })
			want := map[string]any{"url": tt.want, "list": []any{tt.want}}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("Resolve (-want +got):\n%s", diff)
			}
		})
	}
	// A Format nested in a Format's arguments resolves too.
	nested := Format{Template: "{}/32", Args: []any{Format{Template: "{}.{}", Args: []any{webIP, webPort}}}}
	got := Resolve(nested, func(r Ref) (any, bool) { return map[Ref]any{webIP: "10.0", webPort: "1"}[r], true })
	if got != "10.0.1/32" {
		t.Errorf("Resolve(nested) = %#v, want \"10.0.1/32\"", got)
	}
	// Resolve leaves its input as it was.
	if diff := cmp.Diff(Format{Template: "http://{}:{}/{{x}}", Args: []any{webIP, webPort}}, url); diff != "" {
		t.Errorf("url changed (-want +got):\n%s", diff)
	}
}

func TestFormatEncodeDecode(t *testing.T) {
	v := map[string]any{
		"url":     url,
		"unknown": Unknown{Source: url.String()},
		"list":    []any{Format{Template: "{}", Args: []any{webIP}}, "plain", json.Number("1")},
		"nested":  Format{Template: "{}/32", Args: []any{Format{Template: "{}", Args: []any{webIP}}}},
	}
	data, err := json.Marshal(EncodeMap(v))
	if err != nil {
		t.Fatal(err)
	}
	wantURL := `"url":{"$format":{"args":[{"$ref":"aws.instance.web.public_ip"},{"$ref":"aws.instance.web.tags.port"}],"template":"http://{}:{}/{{x}}"}}`
	if !strings.Contains(string(data), wantURL) {
		t.Errorf("encoded form\n%s\ndoes not contain\n%s", data, wantURL)
	}
	if got := decodeJSON(t, string(data)); !cmp.Equal(v, got) {
		t.Errorf("round trip (-want +got):\n%s", cmp.Diff(v, got))
	}

	// Only the exact encoded form is a Format; anything else stays a map.
	for _, s := range []string{
		`{"$format":{"template":"{}","args":[]}}`,              // too few args
		`{"$format":{"template":"x","args":["a"]}}`,            // too many
		`{"$format":{"template":"{0}","args":["a"]}}`,          // bad template
		`{"$format":{"template":"{}","args":["a"],"more":1}}`,  // extra key
		`{"$format":{"template":1,"args":[]}}`,                 // template not a string
		`{"$format":{"template":"x","args":{}}}`,               // args not a list
		`{"$format":{"template":"{}","args":["a"]},"other":1}`, // not the only key
		`{"$format":"x"}`, // not an object
	} {
		if _, ok := decodeJSON(t, s).(map[string]any); !ok {
			t.Errorf("Decode(%s) is a %T, want it left a map", s, decodeJSON(t, s))
		}
	}
	if got := decodeJSON(t, `{"$format":{"template":"x","args":[]}}`); !cmp.Equal(got, Format{Template: "x"}) {
		t.Errorf("Decode of a format without args = %#v, want Format{Template: \"x\"}", got)
	}
}

func decodeJSON(t *testing.T, s string) any {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		t.Fatal(err)
	}
	return Decode(v)
}

func TestFormatRender(t *testing.T) {
	tests := []struct {
		v    any
		want string
	}{
		{Format{Template: "http://{}:8080", Args: []any{webIP}}, `format("http://{}:8080", aws.instance.web.public_ip)`},
		{url, `format("http://{}:{}/{{x}}", aws.instance.web.public_ip, aws.instance.web.tags.port)`},
		{map[string]any{"u": Format{Template: "say \"{}\"", Args: []any{webIP}}}, `{"u": format("say \"{}\"", aws.instance.web.public_ip)}`},
		{Format{Template: "{}", Args: []any{Format{Template: "{}!", Args: []any{webIP}}}}, `format("{}", format("{}!", aws.instance.web.public_ip))`},
	}
	for _, tt := range tests {
		if got := Render(tt.v); got != tt.want {
			t.Errorf("Render = %s, want %s", got, tt.want)
		}
	}
	if got, want := url.String(), Render(url); got != want {
		t.Errorf("String = %s, want %s", got, want)
	}
}

func TestFormatClone(t *testing.T) {
	orig := map[string]any{"u": Format{Template: "{}", Args: []any{webIP}}}
	cp := CloneMap(orig)
	cp["u"].(Format).Args[0] = "changed"
	if got := orig["u"].(Format).Args[0]; got != webIP {
		t.Errorf("the clone shares a Format's arguments with the original: %v", got)
	}
}
