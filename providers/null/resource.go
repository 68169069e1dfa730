package null

import (
	"context"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strconv"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Type is the resource type name as users call it.
const Type = "null.resource"

// New returns the null.resource implementation. It holds no state and is
// safe for concurrent use.
func New() providers.Resource { return resource{} }

// Provider returns the "null" provider: null.resource, without
// configuration.
func Provider() providers.Provider {
	return &providers.Static{Namespace: "null", Types: []providers.Resource{New()}}
}

type resource struct{}

func (resource) Schema() spec.Schema {
	return spec.Schema{
		Type: Type,
		Doc:  "A resource that creates nothing; its id changes whenever its triggers change.",
		Attrs: []spec.Attr{
			{
				Name:     "triggers",
				Kind:     spec.KindMap,
				Doc:      "Arbitrary values; any change replaces the resource (and gives it a new id).",
				Optional: true,
				Default:  map[string]any{},
				ForceNew: true,
			},
			{
				Name:     "id",
				Kind:     spec.KindString,
				Doc:      "A random decimal number chosen at creation.",
				Computed: true,
			},
		},
	}
}

func (resource) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	triggers, err := triggersArg(req.Addr, req.Config)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	newID := spec.Unknown{Source: req.Addr + ".id"}
	if req.Prior == nil {
		return providers.PlanResponse{Planned: map[string]any{"triggers": triggers, "id": newID}}, nil
	}
	prior := priorTriggers(req.Prior)
	if spec.HasUnknown(triggers) || !reflect.DeepEqual(triggers, prior) {
		return providers.PlanResponse{
			Planned:         map[string]any{"triggers": triggers, "id": newID},
			RequiresReplace: []string{"triggers"},
		}, nil
	}
	return providers.PlanResponse{Planned: spec.CloneMap(req.Prior)}, nil
}

func (resource) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	// Nothing here takes time, but a cancelled apply starts nothing new.
	if err := ctx.Err(); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("%s %s: %w", req.Action, req.Addr, err)
	}
	switch req.Action {
	case providers.Create:
		triggers, err := triggersArg(req.Addr, req.Planned)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		if spec.HasUnknown(triggers) {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: triggers are still unknown at apply time; run plan again", req.Addr)
		}
		return providers.ApplyResponse{State: map[string]any{
			"triggers": triggers,
			"id":       strconv.FormatInt(rand.Int64(), 10),
		}}, nil
	case providers.Update:
		// Nothing updates in place: the only argument forces a new
		// resource. An update is a no-op that keeps the prior state.
		return providers.ApplyResponse{State: spec.CloneMap(req.Prior)}, nil
	case providers.Delete:
		return providers.ApplyResponse{}, nil
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// Read returns the prior state: there is nothing outside ferry to look at.
func (resource) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return providers.ReadResponse{State: spec.CloneMap(req.Prior)}, nil
}

// triggersArg returns a copy of the "triggers" argument: a map, or an
// Unknown standing for the whole map; missing or null means empty.
func triggersArg(addr string, args map[string]any) (any, error) {
	switch v := args["triggers"].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return spec.Clone(v), nil
	case spec.Unknown:
		return v, nil
	default:
		return nil, fmt.Errorf("%s: attribute \"triggers\" must be a dict, got %s", addr, spec.Render(v))
	}
}

func priorTriggers(prior map[string]any) any {
	if t, ok := prior["triggers"].(map[string]any); ok {
		return t
	}
	return map[string]any{}
}
