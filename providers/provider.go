package providers

import (
	"context"
	"fmt"
	"sort"
	"strings"

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

// Provider is one namespace of resource types ("null", "local", "aws"),
// as the configuration calls them ("aws.instance"). A provider that takes
// a configuration (credentials, a region) offers NAME.provider(...) in
// Starlark; the engine calls Configure once per configuration that a plan
// or an apply uses, before the first resource of it, and uses the
// resources of the Configured it returns.
type Provider interface {
	// Name is the namespace: the part before the dot of every type.
	Name() string
	// ConfigSchema describes the arguments of NAME.provider(...); nil when
	// the provider takes no configuration. Its Type is "NAME.provider";
	// the attribute "alias" is reserved: it names a configuration other
	// than the default one. A provider with a ConfigSchema implements
	// Describer, so that its types are known without configuring it.
	ConfigSchema() *spec.Schema
	// Configure returns the provider configured with req.Config. Secrets
	// (credentials) come from the environment and the SDK's standard
	// chains, never from the configuration, so they never reach a plan,
	// the state or a log. A failure says what was looked for and how to
	// fix it ("no AWS credentials for profile prod: run aws sso login").
	Configure(ctx context.Context, req ConfigureRequest) (Configured, error)
}

// ConfigureRequest is the input of Provider.Configure.
type ConfigureRequest struct {
	// Alias is the configuration's alias, "" for the default one.
	Alias string
	// Config holds the arguments of NAME.provider(...), defaults applied;
	// empty for a provider without ConfigSchema.
	Config map[string]any
}

// Configured is a configured provider: its resource types, bound to the
// configuration, and the limit on its calls.
type Configured interface {
	// Resources returns the implementations of every type of the provider,
	// keyed by type ("aws.instance").
	Resources() map[string]Resource
	// Limit is how many calls to this configuration's resources may run
	// at once (an API's rate limits), on top of --parallelism; 0 means no
	// limit of its own.
	Limit() int
}

// Resource is one resource type. Implementations must be safe for
// concurrent use: apply calls them from many goroutines at once.
//
// Optional abilities are further interfaces a Resource may implement:
// BatchReader (refresh many objects per call), Importer (adopt an object
// by its ID), Adopter (find the object a create with a given idempotency
// token made), StateUpgrader (state of an older schema version).
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
	// carries the new attributes. For Delete the response is empty;
	// deleting an object that no longer exists succeeds.
	//
	// Apply honours ctx: with ctx done already it starts nothing; once ctx
	// is done it returns promptly with an error wrapping ctx.Err() (the
	// resource's timeouts reach it this way). Errors name req.Addr and
	// never contain the value of a Sensitive attribute.
	//
	// An Apply that fails after the object came into being (a create whose
	// second step failed) returns the error together with the partial
	// State of what exists: the engine records it as tainted, and the next
	// plan replaces it. A create passes req.Token to the cloud (EC2's
	// ClientToken, a tag, a deterministic name), so that a run killed
	// during the create finds the object again (Adopter).
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
	// Reviewed, when apply plans the resource again, is what the saved
	// plan recorded as planned (unknown values as spec.Unknown); nil at
	// plan time. A value the provider chose itself at plan time (the
	// newest image of a release, say) must be chosen the same at apply:
	// the reviewed one, not a newer one, so that apply does what the plan
	// showed.
	Reviewed map[string]any
}

// PlanResponse is the output of Resource.Plan.
type PlanResponse struct {
	Planned         map[string]any
	RequiresReplace []string // attribute names, sorted
	// Downtime, for an update in place, says why the object is
	// unavailable during it ("stops the instance to change instance_type,
	// then starts it"); the plan records and shows it. "" when the update
	// does not interrupt the object.
	Downtime string
}

// ApplyRequest is the input of Resource.Apply.
type ApplyRequest struct {
	Addr    string
	Action  Action // Create, Update or Delete
	Prior   map[string]any
	Planned map[string]any
	// Token is the idempotency token of a Create, stable for that planned
	// create and journalled before the call: the provider passes it to
	// the cloud so that the object can be found by it (Adopter) and a
	// retried create does not make a second one. "" for Update and Delete.
	Token string
}

// ApplyResponse is the output of Resource.Apply.
type ApplyResponse struct {
	// State is the object's attributes; on an error, what exists of it (nil
	// when nothing does).
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

// BatchReader reads many objects of one type in few calls (one
// DescribeInstances with a list of IDs), so that refreshing N objects
// costs O(N / page size) calls, not N.
type BatchReader interface {
	// ReadMany returns one response per request, in order; an object that
	// is gone gets a nil State, as with Read. No requests, no responses.
	ReadMany(ctx context.Context, reqs []ReadRequest) ([]ReadResponse, error)
}

// Retryable marks an error after which the same call may be made again
// and succeed, and did nothing (throttling, a transient network failure
// before the request was accepted): the engine retries such calls with
// exponential backoff, within the resource's timeout. Providers whose SDK
// retries on its own (aws-sdk-go-v2's adaptive retryer) return what is
// left after those retries as they are.
type Retryable interface {
	Retryable() bool
}

// Importer adopts an existing object by its ID (`ferry import ADDR ID`,
// import_id = "..." on a declaration).
type Importer interface {
	// Import returns the object's attributes; an ID that names nothing is
	// an error that names req.Addr and req.ID.
	Import(ctx context.Context, req ImportRequest) (ImportResponse, error)
}

// ImportRequest is the input of Importer.Import.
type ImportRequest struct {
	Addr string
	ID   string
}

// ImportResponse is the output of Importer.Import.
type ImportResponse struct {
	State map[string]any
}

// Adopter finds the object a create with a given idempotency token made,
// after a run was killed between the create call and its record.
type Adopter interface {
	// Adopt returns the attributes of the object the create with
	// req.Token made, nil when it made none. When the cloud ignored the
	// token and made several (moto's ClientToken), it returns the oldest.
	Adopt(ctx context.Context, req AdoptRequest) (ReadResponse, error)
}

// AdoptRequest is the input of Adopter.Adopt.
type AdoptRequest struct {
	Addr  string
	Token string
	// Planned is what the create was planned to make.
	Planned map[string]any
}

// PowerSwitch is a Resource whose objects (machines a cloud runs) can be
// stopped, started and rebooted through the cloud's API: ferry stop,
// start and reboot of machines on such a target.
type PowerSwitch interface {
	// Power performs req.Op on the object whose state is req.State and
	// returns its state afterwards: "stop" and "start" return once the
	// object is stopped or running (stopping a stopped object, starting a
	// running one, succeed at once); "reboot" returns once the cloud took
	// the request (the caller waits for the new boot over SSH).
	Power(ctx context.Context, req PowerRequest) (ReadResponse, error)
}

// PowerSwitchOf returns r's PowerSwitch. A wrapper that adds checks to a
// resource (providers/checked) offers the switch through PowerSwitch()
// rather than by its method set, so that wrapping does not multiply its
// types by another ability.
func PowerSwitchOf(r Resource) (PowerSwitch, bool) {
	if ps, ok := r.(PowerSwitch); ok {
		return ps, true
	}
	if w, ok := r.(interface{ PowerSwitch() (PowerSwitch, bool) }); ok {
		return w.PowerSwitch()
	}
	return nil, false
}

// PowerOp is what PowerSwitch.Power does.
type PowerOp string

const (
	PowerStop   PowerOp = "stop"
	PowerStart  PowerOp = "start"
	PowerReboot PowerOp = "reboot"
)

// PowerRequest is the input of PowerSwitch.Power.
type PowerRequest struct {
	Addr  string
	Op    PowerOp
	State map[string]any
}

// StateUpgrader turns state written by an older version of the type's
// schema (spec.Schema.Version) into the current shape.
type StateUpgrader interface {
	UpgradeState(ctx context.Context, req UpgradeRequest) (map[string]any, error)
}

// UpgradeRequest is the input of StateUpgrader.UpgradeState.
type UpgradeRequest struct {
	Addr    string
	Version int // the schema version the state was written with
	State   map[string]any
}

// Registry holds the providers the CLI wires explicitly (no init() side
// effects), by name.
type Registry struct {
	providers map[string]Provider
	schemas   map[string]spec.Schema // resource type -> schema, from the default configuration's resources
}

// NewRegistry returns a registry of ps. Each provider's resource types
// must be in its namespace and unique.
func NewRegistry(ps ...Provider) (*Registry, error) {
	reg := &Registry{providers: map[string]Provider{}, schemas: map[string]spec.Schema{}}
	for _, p := range ps {
		name := p.Name()
		if _, dup := reg.providers[name]; dup {
			return nil, fmt.Errorf("provider registry: provider %q registered twice", name)
		}
		reg.providers[name] = p
		types, err := describe(p)
		if err != nil {
			return nil, err
		}
		for _, s := range types {
			if ns, _, _ := strings.Cut(s.Type, "."); ns != name {
				return nil, fmt.Errorf("provider registry: provider %q offers type %q outside its namespace", name, s.Type)
			}
			reg.schemas[s.Type] = s
		}
	}
	return reg, nil
}

// describe lists a provider's resource types without configuring it: a
// provider whose schemas need a configuration offers them through
// Describer.
func describe(p Provider) ([]spec.Schema, error) {
	if d, ok := p.(Describer); ok {
		return d.Schemas(), nil
	}
	if p.ConfigSchema() != nil {
		return nil, fmt.Errorf("provider registry: provider %q takes a configuration, so it must implement Describer to list its schemas", p.Name())
	}
	c, err := p.Configure(context.Background(), ConfigureRequest{Config: map[string]any{}})
	if err != nil {
		return nil, fmt.Errorf("provider registry: provider %q: %w", p.Name(), err)
	}
	var out []spec.Schema
	for _, r := range c.Resources() {
		out = append(out, r.Schema())
	}
	return out, nil
}

// ConfigValidator is a Provider that checks a resource's arguments
// without a configuration: no credentials, no network. ferry validate uses
// it, instead of configuring the provider and planning, for providers
// whose Configure or Plan needs either (a cloud's), so that validate
// works offline, as Terraform's does.
type ConfigValidator interface {
	// ValidateResource checks req.Config, the arguments of a resource of
	// type typ (references unknown), and says what is wrong, naming
	// req.Addr.
	ValidateResource(ctx context.Context, typ string, req PlanRequest) error
}

// ConfigValidatorOf returns p's ConfigValidator; a wrapper that adds
// checks to a provider (providers/checked) offers it through
// ConfigValidator() rather than by its method set.
func ConfigValidatorOf(p Provider) (ConfigValidator, bool) {
	if v, ok := p.(ConfigValidator); ok {
		return v, true
	}
	if w, ok := p.(interface {
		ConfigValidator() (ConfigValidator, bool)
	}); ok {
		return w.ConfigValidator()
	}
	return nil, false
}

// Describer lists a provider's resource types without a configuration.
type Describer interface {
	Schemas() []spec.Schema
}

// Provider returns a provider by name.
func (r *Registry) Provider(name string) (Provider, bool) {
	p, ok := r.providers[name]
	return p, ok
}

// Providers returns every provider, sorted by name.
func (r *Registry) Providers() []Provider {
	out := make([]Provider, 0, len(r.providers))
	for _, p := range r.providers {
		out = append(out, p)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name() < out[j].Name() })
	return out
}

// Schema returns the schema of a resource type.
func (r *Registry) Schema(typ string) (spec.Schema, bool) {
	s, ok := r.schemas[typ]
	return s, ok
}

// Schemas lists every registered type's schema, sorted by type.
func (r *Registry) Schemas() []spec.Schema {
	out := make([]spec.Schema, 0, len(r.schemas))
	for _, s := range r.schemas {
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Type < out[j].Type })
	return out
}

// Static is a Provider without a configuration whose resources need none
// (null, time, local): Configure returns them as they are.
type Static struct {
	Namespace string
	Types     []Resource
}

// Name is the namespace.
func (s *Static) Name() string { return s.Namespace }

// ConfigSchema is nil: a static provider takes no configuration.
func (s *Static) ConfigSchema() *spec.Schema { return nil }

// Schemas lists the types.
func (s *Static) Schemas() []spec.Schema {
	out := make([]spec.Schema, len(s.Types))
	for i, r := range s.Types {
		out[i] = r.Schema()
	}
	return out
}

// Configure returns the resources as they are.
func (s *Static) Configure(context.Context, ConfigureRequest) (Configured, error) {
	m := make(map[string]Resource, len(s.Types))
	for _, r := range s.Types {
		m[r.Schema().Type] = r
	}
	return staticConfigured(m), nil
}

type staticConfigured map[string]Resource

func (c staticConfigured) Resources() map[string]Resource { return c }
func (c staticConfigured) Limit() int                     { return 0 }
