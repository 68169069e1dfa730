package lang

import (
	"testing"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// TestReference: every builtin a configuration can call is documented
// (resource types and NAME.provider by their schemas), every parameter
// of every documented builtin has a description, and a documented
// builtin's parameters are the ones its call accepts.
func TestReference(t *testing.T) {
	schemas := append(testSchemas(), spec.Schema{Type: ec2InstanceType, Attrs: []spec.Attr{{Name: "instance_type", Kind: spec.KindString, Required: true}}})
	opts := Options{Dir: "/x", Schemas: schemas, Providers: []ProviderSchema{{Name: "null", Config: &spec.Schema{Type: "null.provider"}}}}
	r, err := newRun(opts, nil)
	if err != nil {
		t.Fatal(err)
	}
	documented := map[string]BuiltinDoc{}
	for _, d := range Builtins(opts) {
		if _, dup := documented[d.Name]; dup {
			t.Errorf("%s is documented twice", d.Name)
		}
		documented[d.Name] = d
		if d.Summary == "" || d.Returns == "" {
			t.Errorf("%s: no summary or no returns", d.Name)
		}
		for _, p := range d.Params {
			if p.Doc == "" {
				t.Errorf("%s: argument %s has no description", d.Name, p.Name)
			}
		}
	}
	bySchema := map[string]bool{}
	for _, s := range schemas {
		bySchema[s.Type] = true
	}
	seen := map[string]bool{}
	check := func(v starlark.Value) {
		b, ok := v.(*starlark.Builtin)
		if !ok {
			return
		}
		seen[b.Name()] = true
		if _, ok := documented[b.Name()]; !ok && !bySchema[b.Name()] && b.Name() != "null.provider" {
			t.Errorf("builtin %s is not documented: give it a builtinDoc in its file and list it in registry.go", b.Name())
		}
	}
	for _, name := range r.predeclared.Keys() {
		v := r.predeclared[name]
		check(v)
		if m, ok := v.(starlark.HasAttrs); ok {
			for _, member := range m.AttrNames() {
				x, err := m.Attr(member)
				if err != nil {
					t.Fatal(err)
				}
				check(x)
			}
		}
	}
	for name := range documented {
		if !seen[name] {
			t.Errorf("%s is documented but no configuration can call it", name)
		}
	}
	for _, p := range ResourceMetaArgs() {
		if p.Doc == "" {
			t.Errorf("resource meta-argument %s has no description", p.Name)
		}
	}
}
