package checked

import (
	"context"
	"fmt"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// plain is a resource without optional abilities; the ability types
// below add one each, and withAbilities combines them (around a *plain,
// so that the results compare by identity).
type plain struct{ schema spec.Schema }

func (p *plain) Schema() spec.Schema { return p.schema }
func (*plain) Plan(context.Context, providers.PlanRequest) (providers.PlanResponse, error) {
	return providers.PlanResponse{}, nil
}
func (*plain) Apply(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error) {
	return providers.ApplyResponse{}, nil
}
func (*plain) Read(context.Context, providers.ReadRequest) (providers.ReadResponse, error) {
	return providers.ReadResponse{}, nil
}

type canReadMany struct{}

func (canReadMany) ReadMany(context.Context, []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return nil, nil
}

type canImportID struct{}

func (canImportID) Import(context.Context, providers.ImportRequest) (providers.ImportResponse, error) {
	return providers.ImportResponse{State: map[string]any{}}, nil
}

type canAdoptToken struct{}

func (canAdoptToken) Adopt(context.Context, providers.AdoptRequest) (providers.ReadResponse, error) {
	return providers.ReadResponse{}, nil
}

type canUpgradeState struct{}

func (canUpgradeState) UpgradeState(context.Context, providers.UpgradeRequest) (map[string]any, error) {
	return map[string]any{}, nil
}

// withAbilities returns a resource with exactly the abilities in bits.
func withAbilities(bits int) providers.Resource {
	p := &plain{spec.Schema{Type: "test.thing", Attrs: []spec.Attr{{Name: "id", Kind: spec.KindString, Computed: true}}}}
	type (
		b = canReadMany
		i = canImportID
		a = canAdoptToken
		u = canUpgradeState
	)
	switch bits {
	case 0:
		return p
	case canBatch:
		return struct {
			*plain
			b
		}{p, b{}}
	case canImport:
		return struct {
			*plain
			i
		}{p, i{}}
	case canBatch | canImport:
		return struct {
			*plain
			b
			i
		}{p, b{}, i{}}
	case canAdopt:
		return struct {
			*plain
			a
		}{p, a{}}
	case canBatch | canAdopt:
		return struct {
			*plain
			b
			a
		}{p, b{}, a{}}
	case canImport | canAdopt:
		return struct {
			*plain
			i
			a
		}{p, i{}, a{}}
	case canBatch | canImport | canAdopt:
		return struct {
			*plain
			b
			i
			a
		}{p, b{}, i{}, a{}}
	case canUpgrade:
		return struct {
			*plain
			u
		}{p, u{}}
	case canBatch | canUpgrade:
		return struct {
			*plain
			b
			u
		}{p, b{}, u{}}
	case canImport | canUpgrade:
		return struct {
			*plain
			i
			u
		}{p, i{}, u{}}
	case canBatch | canImport | canUpgrade:
		return struct {
			*plain
			b
			i
			u
		}{p, b{}, i{}, u{}}
	case canAdopt | canUpgrade:
		return struct {
			*plain
			a
			u
		}{p, a{}, u{}}
	case canBatch | canAdopt | canUpgrade:
		return struct {
			*plain
			b
			a
			u
		}{p, b{}, a{}, u{}}
	case canImport | canAdopt | canUpgrade:
		return struct {
			*plain
			i
			a
			u
		}{p, i{}, a{}, u{}}
	default:
		return struct {
			*plain
			b
			i
			a
			u
		}{p, b{}, i{}, a{}, u{}}
	}
}

func abilitiesOf(r providers.Resource) int {
	bits := 0
	if _, ok := r.(providers.BatchReader); ok {
		bits |= canBatch
	}
	if _, ok := r.(providers.Importer); ok {
		bits |= canImport
	}
	if _, ok := r.(providers.Adopter); ok {
		bits |= canAdopt
	}
	if _, ok := r.(providers.StateUpgrader); ok {
		bits |= canUpgrade
	}
	return bits
}

func TestWrapKeepsExactlyTheAbilities(t *testing.T) {
	for bits := range 16 {
		t.Run(fmt.Sprintf("%04b", bits), func(t *testing.T) {
			in := withAbilities(bits)
			if got := abilitiesOf(in); got != bits {
				t.Fatalf("test input has abilities %04b, want %04b", got, bits)
			}
			w := Wrap(in)
			if got := abilitiesOf(w); got != bits {
				t.Errorf("wrapped resource has abilities %04b, want %04b", got, bits)
			}
			if Unwrap(w) != in {
				t.Error("Unwrap does not return the wrapped resource")
			}
			if Wrap(w) != w {
				t.Error("wrapping a checker again wraps it twice")
			}
			// Each ability reaches the checker, not the input directly.
			if u, ok := w.(providers.StateUpgrader); ok {
				if _, err := u.UpgradeState(t.Context(), providers.UpgradeRequest{Addr: "test.thing.a"}); err != nil {
					t.Errorf("UpgradeState: %v", err)
				}
			}
			if b, ok := w.(providers.BatchReader); ok {
				_, err := b.ReadMany(t.Context(), []providers.ReadRequest{{Addr: "test.thing.a"}})
				if err == nil {
					t.Error("ReadMany of 1 answered with 0 responses: no fault")
				}
			}
		})
	}
}

func TestWrapProvider(t *testing.T) {
	static := &providers.Static{Namespace: "test", Types: []providers.Resource{withAbilities(canBatch | canImport)}}
	p := WrapProvider(static)
	if _, ok := p.(providers.Describer); !ok {
		t.Error("a wrapped Describer is no longer one")
	}
	if WrapProvider(p) != p {
		t.Error("wrapping a checked provider again wraps it twice")
	}
	c, err := p.Configure(t.Context(), providers.ConfigureRequest{})
	if err != nil {
		t.Fatal(err)
	}
	r := c.Resources()["test.thing"]
	if _, ok := r.(wrapped); !ok {
		t.Errorf("configured resource %T is not checked", r)
	}
	if got := abilitiesOf(r); got != canBatch|canImport {
		t.Errorf("configured resource has abilities %04b, want %04b", got, canBatch|canImport)
	}
	if _, err := providers.NewRegistry(p); err != nil {
		t.Errorf("registry of a wrapped static provider: %v", err)
	}
	if _, ok := WrapProvider(noDescriber{static}).(providers.Describer); ok {
		t.Error("a provider that is not a Describer became one")
	}
}

type noDescriber struct{ p providers.Provider }

func (n noDescriber) Name() string               { return n.p.Name() }
func (n noDescriber) ConfigSchema() *spec.Schema { return n.p.ConfigSchema() }
func (n noDescriber) Configure(ctx context.Context, req providers.ConfigureRequest) (providers.Configured, error) {
	return n.p.Configure(ctx, req)
}
