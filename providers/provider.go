package providers

import (
	"context"
	"fmt"
	"sort"

	"github.com/nixferry/ferry/engine/spec"
)

// Action is what apply does to a resource.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace" // delete then create; providers see Delete then Create
	Delete  Action = "delete"
	Noop    Action = "noop"
	Read    Action = "read" // refresh only, never planned
)

// Resource is one resource type. Implementations must be safe for
// concurrent use: apply calls them from many goroutines at once.
type Resource interface {
	// Schema describes the type's arguments and attributes.
	Schema() spec.Schema
	// Plan computes the planned attributes from the prior attributes (nil
	// when the resource does not exist yet) and the desired arguments
	// (which may contain spec.Unknown). Computed attributes that will change
	// are spec.Unknown in Planned. Attributes whose change forces a
	// replacement are listed in RequiresReplace.
	Plan(ctx context.Context, req PlanRequest) (PlanResponse, error)
	// Apply performs Create, Update or Delete. For Create and Update,
	// req.Planned is fully known except computed attributes; the response
	// carries the new attributes. For Delete the response is empty.
	Apply(ctx context.Context, req ApplyRequest) (ApplyResponse, error)
	// Read refreshes the prior attributes from the real world; State is nil
	// when the object no longer exists.
	Read(ctx context.Context, req ReadRequest) (ReadResponse, error)
}

// PlanRequest is the input of Resource.Plan.
type PlanRequest struct {
	Addr   string
	Prior  map[string]any // nil when creating
	Config map[string]any // desired arguments; may contain spec.Unknown
}

// PlanResponse is the output of Resource.Plan.
type PlanResponse struct {
	Planned         map[string]any
	RequiresReplace []string // attribute names, sorted
}

// ApplyRequest is the input of Resource.Apply.
type ApplyRequest struct {
	Addr    string
	Action  Action // Create, Update or Delete
	Prior   map[string]any
	Planned map[string]any
}

// ApplyResponse is the output of Resource.Apply.
type ApplyResponse struct {
	State map[string]any
}

// ReadRequest is the input of Resource.Read.
type ReadRequest struct {
	Addr  string
	Prior map[string]any
}

// ReadResponse is the output of Resource.Read.
type ReadResponse struct {
	State map[string]any // nil: the object is gone
}

// Registry maps resource type names ("null.resource") to implementations.
// It is filled explicitly by the CLI wiring.
type Registry struct {
	types map[string]Resource
}

// NewRegistry returns a registry holding rs, keyed by their schema's type.
func NewRegistry(rs ...Resource) (*Registry, error) {
	reg := &Registry{types: make(map[string]Resource, len(rs))}
	for _, r := range rs {
		t := r.Schema().Type
		if _, dup := reg.types[t]; dup {
			return nil, fmt.Errorf("provider registry: resource type %q registered twice", t)
		}
		reg.types[t] = r
	}
	return reg, nil
}

// Get returns the implementation of a type.
func (r *Registry) Get(typ string) (Resource, bool) {
	res, ok := r.types[typ]
	return res, ok
}

// Schemas lists every registered type's schema, sorted by type.
func (r *Registry) Schemas() []spec.Schema {
	out := make([]spec.Schema, 0, len(r.types))
	for _, res := range r.types {
		out = append(out, res.Schema())
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}
