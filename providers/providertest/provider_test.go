package providertest

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// sloppy is a provider with a configuration that breaks the rules of
// RunProvider: a reserved argument, a computed one, no Describer, a
// Configure that takes anything, a type outside its namespace.
type sloppy struct{}

func (sloppy) Name() string { return "test" }
func (sloppy) ConfigSchema() *spec.Schema {
	return &spec.Schema{Type: "test.config", Attrs: []spec.Attr{
		{Name: "region", Kind: spec.KindString, Required: true},
		{Name: "alias", Kind: spec.KindString, Optional: true},
		{Name: "endpoint", Kind: spec.KindString, Optional: true, Computed: true},
	}}
}
func (sloppy) Configure(context.Context, providers.ConfigureRequest) (providers.Configured, error) {
	return sloppyConfigured{}, nil
}

type sloppyConfigured struct{}

func (sloppyConfigured) Resources() map[string]providers.Resource {
	return map[string]providers.Resource{"test.thing": &thing{}, "test.stray": plainThing{&thing{}}}
}
func (sloppyConfigured) Limit() int { return -1 }

func TestProviderProblems(t *testing.T) {
	pc := ProviderCase{
		New:    func(*testing.T) providers.Provider { return sloppy{} },
		Config: map[string]any{"region": "r"},
		Types:  map[string]Case{"test.thing": thingCase(""), "test.other": {}},
	}
	want := []string{
		`config schema type "test.config": want "test.provider", as the configuration calls it`,
		`config schema declares "alias", which is reserved: it names a configuration other than the default one`,
		`config schema attribute "endpoint" is Computed: a configuration has only arguments`,
		`provider test takes a configuration but is not a providers.Describer: the registry cannot list its types without configuring it`,
		`Configure without the required argument "region" succeeded`,
		`Limit() = -1; want 0 (no limit of its own) or more`,
		`Resources() holds test.thing under the key "test.stray"`,
		`type test.stray has no Case in ProviderCase.Types; every type runs the suite`,
		`ProviderCase.Types has a Case for test.other, which the provider does not offer`,
		`NewRegistry: provider registry: provider "test" takes a configuration, so it must implement Describer to list its schemas`,
	}
	if diff := cmp.Diff(want, providerProblems(t, sloppy{}, pc)); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestProviderProblemsOfAStaticProvider(t *testing.T) {
	static := func(*testing.T) providers.Provider {
		return &providers.Static{Namespace: "test", Types: []providers.Resource{&thing{}}}
	}
	if got := providerProblems(t, static(t), ProviderCase{New: static, Types: map[string]Case{"test.thing": thingCase("")}}); got != nil {
		t.Errorf("problems of a conforming static provider: %v", got)
	}
	got := providerProblems(t, static(t), ProviderCase{New: static, Config: map[string]any{"x": "y"}, Types: map[string]Case{"test.thing": thingCase("")}})
	if diff := cmp.Diff([]string{"ProviderCase.Config is set, but provider test takes no configuration"}, got); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}
