package providertest

import (
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// ProviderCase describes a provider to check: the provider itself (its
// name, configuration schema, Configure and registry) and each of its
// resource types, through Run.
type ProviderCase struct {
	// New returns a fresh provider; it is called once per sub-test.
	New func(t *testing.T) providers.Provider
	// Config holds the arguments of NAME.provider(...) (defaults are
	// added); nil for a provider without configuration.
	Config map[string]any
	// Types holds a Case for every resource type the provider offers. A
	// Case without New takes its type from a fresh provider configured
	// with Config.
	Types map[string]Case
}

var providerName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)

// RunProvider checks pc's provider and runs Run for each of its types.
func RunProvider(t *testing.T, pc ProviderCase) {
	t.Helper()
	if pc.New == nil {
		t.Fatal("providertest.ProviderCase needs New")
	}
	p := pc.New(t)
	name := p.Name()
	t.Run("provider", func(t *testing.T) {
		for _, problem := range providerProblems(t, p, pc) {
			t.Error(problem)
		}
	})
	for _, typ := range slices.Sorted(maps.Keys(pc.Types)) {
		c := pc.Types[typ]
		if c.New == nil {
			c.New = func(t *testing.T) providers.Resource { return configuredType(t, pc, typ) }
		}
		t.Run(strings.TrimPrefix(typ, name+"."), func(t *testing.T) { Run(t, c) })
	}
}

// configure configures a fresh provider with pc.Config and its defaults.
func configure(t *testing.T, pc ProviderCase) providers.Configured {
	t.Helper()
	p := pc.New(t)
	c, err := p.Configure(t.Context(), providers.ConfigureRequest{Config: configOf(p, pc.Config)})
	if err != nil {
		t.Fatalf("configure %s: %v", p.Name(), err)
	}
	return c
}

func configOf(p providers.Provider, args map[string]any) map[string]any {
	if s := p.ConfigSchema(); s != nil {
		return Config(*s, args)
	}
	return Config(spec.Schema{}, args)
}

func configuredType(t *testing.T, pc ProviderCase, typ string) providers.Resource {
	t.Helper()
	r, ok := configure(t, pc).Resources()[typ]
	if !ok {
		t.Fatalf("the configured provider has no type %s", typ)
	}
	return r
}

// providerProblems lists what is wrong with p as a provider, one sentence
// each.
func providerProblems(t *testing.T, p providers.Provider, pc ProviderCase) []string {
	var out []string
	problem := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	name := p.Name()
	if !providerName.MatchString(name) {
		problem("provider name %q: want lower case letters, digits and _", name)
	}
	cs := p.ConfigSchema()
	_, describes := p.(providers.Describer)
	if cs != nil {
		if cs.Type != name+".provider" {
			problem("config schema type %q: want %q, as the configuration calls it", cs.Type, name+".provider")
		}
		for _, s := range schemaProblems(*cs) {
			problem("config schema: %s", s)
		}
		for _, a := range cs.Attrs {
			if a.Name == "alias" {
				problem("config schema declares %q, which is reserved: it names a configuration other than the default one", a.Name)
			}
			if a.Computed {
				problem("config schema attribute %q is Computed: a configuration has only arguments", a.Name)
			}
		}
		if !describes {
			problem("provider %s takes a configuration but is not a providers.Describer: the registry cannot list its types without configuring it", name)
		}
		for _, a := range cs.Attrs {
			if !a.Required {
				continue
			}
			args := configOf(p, pc.Config)
			delete(args, a.Name)
			if _, err := pc.New(t).Configure(t.Context(), providers.ConfigureRequest{Config: args}); err == nil {
				problem("Configure without the required argument %q succeeded", a.Name)
			} else if !strings.Contains(err.Error(), a.Name) {
				problem("Configure without the required argument %q: error %q does not name it", a.Name, err)
			}
		}
	} else if pc.Config != nil {
		problem("ProviderCase.Config is set, but provider %s takes no configuration", name)
	}

	c, err := checked.WrapProvider(p).Configure(t.Context(), providers.ConfigureRequest{Config: configOf(p, pc.Config)})
	if err != nil {
		return append(out, fmt.Sprintf("Configure: %v", err))
	}
	if c.Limit() < 0 {
		problem("Limit() = %d; want 0 (no limit of its own) or more", c.Limit())
	}
	resources := c.Resources()
	if len(resources) == 0 {
		problem("provider %s offers no resource types", name)
	}
	for _, typ := range slices.Sorted(maps.Keys(resources)) {
		if got := resources[typ].Schema().Type; got != typ {
			problem("Resources() holds %s under the key %q", got, typ)
		}
		if ns, _, _ := strings.Cut(typ, "."); ns != name {
			problem("type %s is outside the provider's namespace %q", typ, name)
		}
		if _, ok := pc.Types[typ]; !ok {
			problem("type %s has no Case in ProviderCase.Types; every type runs the suite", typ)
		}
	}
	for _, typ := range slices.Sorted(maps.Keys(pc.Types)) {
		if _, ok := resources[typ]; !ok {
			problem("ProviderCase.Types has a Case for %s, which the provider does not offer", typ)
		}
	}
	if d, ok := p.(providers.Describer); ok {
		described := map[string]spec.Schema{}
		for _, s := range d.Schemas() {
			described[s.Type] = s
		}
		configured := map[string]spec.Schema{}
		for typ, r := range resources {
			configured[typ] = r.Schema()
		}
		if diff := cmp.Diff(configured, described); diff != "" {
			problem("Schemas() differs from the configured types' schemas (-configured +Schemas):\n%s", diff)
		}
	}
	if _, err := providers.NewRegistry(p); err != nil {
		problem("NewRegistry: %v", err)
	}
	return out
}
