package engine

import (
	"context"
	"errors"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// offlineRegistry is reg for Validate: every provider that can check
// arguments offline (providers.ConfigValidator: a cloud's, whose Configure
// loads credentials and whose Plan may call its API) is replaced by a
// stand-in that plans from the schema alone, after that check, so that
// ferry validate needs no credentials and no network. Other providers
// (null, local, time) plan as they do in a plan.
func offlineRegistry(reg *providers.Registry) (*providers.Registry, error) {
	ps := reg.Providers()
	for i, p := range ps {
		if cv, ok := providers.ConfigValidatorOf(p); ok {
			ps[i] = offlineProvider{Provider: p, check: cv, schemas: reg.Schemas()}
		}
	}
	return providers.NewRegistry(ps...)
}

// offlineProvider stands in for a provider during Validate.
type offlineProvider struct {
	providers.Provider
	check   providers.ConfigValidator
	schemas []spec.Schema // of every provider; its own are those of its namespace
}

var _ providers.Describer = offlineProvider{}

func (p offlineProvider) Schemas() []spec.Schema {
	var out []spec.Schema
	for _, s := range p.schemas {
		if spec.ProviderName(s.Type) == p.Name() {
			out = append(out, s)
		}
	}
	return out
}

// Configure loads nothing: its resources only validate and plan from
// their schemas.
func (p offlineProvider) Configure(context.Context, providers.ConfigureRequest) (providers.Configured, error) {
	rs := map[string]providers.Resource{}
	for _, s := range p.Schemas() {
		rs[s.Type] = offlineResource{schema: s, check: p.check}
	}
	return offlineConfigured(rs), nil
}

type offlineConfigured map[string]providers.Resource

func (c offlineConfigured) Resources() map[string]providers.Resource { return c }
func (c offlineConfigured) Limit() int                               { return 0 }

// offlineResource checks a resource's arguments through the provider's
// ConfigValidator and plans them as given, every computed attribute
// unknown.
type offlineResource struct {
	schema spec.Schema
	check  providers.ConfigValidator
}

func (r offlineResource) Schema() spec.Schema { return r.schema }

func (r offlineResource) Plan(ctx context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	if err := r.check.ValidateResource(ctx, r.schema.Type, req); err != nil {
		return providers.PlanResponse{}, err
	}
	planned := spec.CloneMap(req.Config)
	if planned == nil {
		planned = map[string]any{}
	}
	for _, a := range r.schema.Attrs {
		if _, set := planned[a.Name]; !set || (a.Computed && planned[a.Name] == nil) {
			planned[a.Name] = nil
			if a.Computed {
				planned[a.Name] = spec.Unknown{Source: req.Addr + "." + a.Name}
			}
		}
	}
	return providers.PlanResponse{Planned: planned}, nil
}

var errOffline = errors.New("ferry validate does not apply or read resources")

func (offlineResource) Apply(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error) {
	return providers.ApplyResponse{}, errOffline
}

func (offlineResource) Read(context.Context, providers.ReadRequest) (providers.ReadResponse, error) {
	return providers.ReadResponse{}, errOffline
}
