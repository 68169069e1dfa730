package checked

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// scripted answers every call with what the test put in it.
type scripted struct {
	plan    providers.PlanResponse
	apply   providers.ApplyResponse
	read    providers.ReadResponse
	many    []providers.ReadResponse
	imp     providers.ImportResponse
	adopted providers.ReadResponse
	upgrade map[string]any
	err     error
}

func (s *scripted) Schema() spec.Schema {
	return spec.Schema{Type: "aws.instance", Attrs: []spec.Attr{
		{Name: "type", Kind: spec.KindString, Required: true},
		{Name: "password", Kind: spec.KindString, Optional: true, Sensitive: true},
		{Name: "tags", Kind: spec.KindMap, Optional: true, Computed: true},
		{Name: "id", Kind: spec.KindString, Computed: true},
	}}
}
func (s *scripted) Plan(context.Context, providers.PlanRequest) (providers.PlanResponse, error) {
	return s.plan, s.err
}
func (s *scripted) Apply(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error) {
	return s.apply, s.err
}
func (s *scripted) Read(context.Context, providers.ReadRequest) (providers.ReadResponse, error) {
	return s.read, s.err
}
func (s *scripted) ReadMany(context.Context, []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return s.many, s.err
}
func (s *scripted) Import(context.Context, providers.ImportRequest) (providers.ImportResponse, error) {
	return s.imp, s.err
}
func (s *scripted) Adopt(context.Context, providers.AdoptRequest) (providers.ReadResponse, error) {
	return s.adopted, s.err
}
func (s *scripted) UpgradeState(context.Context, providers.UpgradeRequest) (map[string]any, error) {
	return s.upgrade, s.err
}

const addr = "aws.instance.web"

var (
	config  = map[string]any{"type": "t3.micro", "password": "hunter2-secret"}
	planned = map[string]any{"type": "t3.micro", "password": "hunter2-secret", "tags": spec.Unknown{}, "id": spec.Unknown{}}
	state   = map[string]any{"type": "t3.micro", "password": "hunter2-secret", "tags": map[string]any{}, "id": "i-1"}
)

// with returns a copy of m with the given changes; a nil value removes.
func with(m map[string]any, kv ...any) map[string]any {
	out := spec.CloneMap(m)
	for i := 0; i < len(kv); i += 2 {
		if kv[i+1] == nil {
			delete(out, kv[i].(string))
		} else {
			out[kv[i].(string)] = kv[i+1]
		}
	}
	return out
}

// call runs one call of the contract on a checked s.
type call func(ctx context.Context, r providers.Resource) error

var (
	planCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.Plan(ctx, providers.PlanRequest{Addr: addr, Config: config})
		return err
	}
	createCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.Apply(ctx, providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: with(planned, "tags", map[string]any{"k": "v"}), Token: "tok"})
		return err
	}
	deleteCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.Apply(ctx, providers.ApplyRequest{Addr: addr, Action: providers.Delete, Prior: state})
		return err
	}
	readCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.Read(ctx, providers.ReadRequest{Addr: addr, Prior: state})
		return err
	}
	readManyCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.(providers.BatchReader).ReadMany(ctx, []providers.ReadRequest{{Addr: addr, Prior: state}, {Addr: addr + "2", Prior: state}})
		return err
	}
	importCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.(providers.Importer).Import(ctx, providers.ImportRequest{Addr: addr, ID: "i-1"})
		return err
	}
	adoptCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.(providers.Adopter).Adopt(ctx, providers.AdoptRequest{Addr: addr, Token: "tok", Planned: planned})
		return err
	}
	upgradeCall call = func(ctx context.Context, r providers.Resource) error {
		_, err := r.(providers.StateUpgrader).UpgradeState(ctx, providers.UpgradeRequest{Addr: addr, Version: 1, State: state})
		return err
	}
)

func TestCheckerLetsGoodResultsThrough(t *testing.T) {
	s := &scripted{
		plan:    providers.PlanResponse{Planned: planned},
		apply:   providers.ApplyResponse{State: with(state, "tags", map[string]any{"k": "v"})},
		read:    providers.ReadResponse{State: state},
		many:    []providers.ReadResponse{{State: state}, {}},
		imp:     providers.ImportResponse{State: state},
		adopted: providers.ReadResponse{State: state},
		upgrade: state,
	}
	r := Wrap(s)
	for name, c := range map[string]call{"plan": planCall, "create": createCall, "delete": deleteCall, "read": readCall,
		"read many": readManyCall, "import": importCall, "adopt": adoptCall, "upgrade": upgradeCall} {
		if err := c(t.Context(), r); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
	// A plan may leave out an optional argument it does not know yet, or
	// plan a computed-and-optional one the configuration leaves out.
	s.plan.Planned = with(planned, "password", nil, "tags", map[string]any{"a": "b"})
	if _, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: map[string]any{"type": "t3.micro", "password": spec.Unknown{}}}); err != nil {
		t.Errorf("plan with an unknown argument: %v", err)
	}
}

func TestCheckerFaults(t *testing.T) {
	tests := []struct {
		name  string
		s     *scripted
		call  call
		want  string
		leaks string // must not appear in the message
	}{
		{"plan outside schema", &scripted{plan: providers.PlanResponse{Planned: with(planned, "colour", "red")}}, planCall,
			`provider fault: aws.instance returned attribute "colour", which its schema does not declare in reply to Plan of aws.instance.web (a bug in the provider, not in your configuration)`, ""},
		{"plan changes an argument", &scripted{plan: providers.PlanResponse{Planned: with(planned, "type", "t3.large")}}, planCall,
			`returned "type" = "t3.large" where the configuration says "t3.micro" in reply to Plan of aws.instance.web`, ""},
		{"plan changes a sensitive argument", &scripted{plan: providers.PlanResponse{Planned: with(planned, "password", "other-value")}}, planCall,
			`returned "password" = (sensitive value) where the configuration says (sensitive value) in reply to Plan`, "hunter2"},
		{"plan with a reference", &scripted{plan: providers.PlanResponse{Planned: with(planned, "id", spec.Ref{Addr: "a.b.c", Attr: "id"})}}, planCall,
			`returned "id" that is not JSON-like (the reference a.b.c.id is not a value) in reply to Plan`, ""},
		{"plan of nothing", &scripted{}, planCall, `returned no planned attributes in reply to Plan`, ""},
		{"apply outside schema", &scripted{apply: providers.ApplyResponse{State: with(state, "colour", "red", "tags", map[string]any{"k": "v"})}}, createCall,
			`provider fault: aws.instance returned attribute "colour", which its schema does not declare in reply to Apply(create) of aws.instance.web (a bug in the provider, not in your configuration)`, ""},
		{"unknown after apply", &scripted{apply: providers.ApplyResponse{State: with(state, "id", spec.Unknown{}, "tags", map[string]any{"k": "v"})}}, createCall,
			`returned "id" still unknown after apply in reply to Apply(create)`, ""},
		{"int in state", &scripted{apply: providers.ApplyResponse{State: with(state, "tags", map[string]any{"k": 7})}}, createCall,
			`returned "tags" that is not JSON-like (.k: int is not a JSON value (use string, bool, json.Number, []any or map[string]any)) in reply to Apply(create)`, ""},
		{"apply changes a known planned argument", &scripted{apply: providers.ApplyResponse{State: with(state, "type", "t3.large", "tags", map[string]any{"k": "v"})}}, createCall,
			`returned "type" = "t3.large" where the plan said "t3.micro" in reply to Apply(create)`, ""},
		{"apply changes a sensitive argument", &scripted{apply: providers.ApplyResponse{State: with(state, "password", "changed-it", "tags", map[string]any{"k": "v"})}}, createCall,
			`returned "password" = (sensitive value) where the plan said (sensitive value)`, "changed-it"},
		{"no state after create", &scripted{}, createCall, `returned no state after a successful create in reply to Apply(create)`, ""},
		{"bad partial state", &scripted{apply: providers.ApplyResponse{State: map[string]any{"id": spec.Unknown{}}}, err: errors.New("second step failed")}, createCall,
			`returned "id" still unknown in the partial state in reply to Apply(create) of aws.instance.web (a bug in the provider, not in your configuration): second step failed`, ""},
		{"read of a non-JSON value", &scripted{read: providers.ReadResponse{State: with(state, "tags", map[string]string{})}}, readCall,
			`returned "tags" that is not JSON-like (map[string]string is not a JSON value`, ""},
		{"read many short", &scripted{many: []providers.ReadResponse{{State: state}}}, readManyCall,
			`returned 1 response for 2 requests in reply to ReadMany of aws.instance.web and 1 more`, ""},
		{"read many with unknown", &scripted{many: []providers.ReadResponse{{}, {State: with(state, "id", spec.Unknown{})}}}, readManyCall,
			`returned "id" still unknown for aws.instance.web2 after a read in reply to ReadMany`, ""},
		{"import of nothing", &scripted{}, importCall,
			`returned no state and no error for ID "i-1" (an ID that names nothing is an error that says so) in reply to Import of aws.instance.web`, ""},
		{"adopt outside schema", &scripted{adopted: providers.ReadResponse{State: with(state, "colour", "red")}}, adoptCall,
			`returned attribute "colour", which its schema does not declare in reply to Adopt of aws.instance.web`, ""},
		{"upgrade of nothing", &scripted{}, upgradeCall, `returned no state and no error in reply to UpgradeState(from version 1) of aws.instance.web`, ""},
		{"secret in a plan error", &scripted{err: errors.New(`aws.instance.web: password "hunter2-secret" is too weak`)}, planCall,
			`returned an error message holding the value of sensitive attribute "password" in reply to Plan of aws.instance.web (a bug in the provider, not in your configuration): aws.instance.web: password "(sensitive value)" is too weak`, "hunter2"},
		{"secret in a delete error", &scripted{err: errors.New(`cannot delete with password hunter2-secret`)}, deleteCall,
			`sensitive attribute "password" in reply to Apply(delete)`, "hunter2"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call(t.Context(), Wrap(tt.s))
			var f *Fault
			if !errors.As(err, &f) {
				t.Fatalf("error %v, want a *Fault", err)
			}
			if f.Type != "aws.instance" {
				t.Errorf("fault names type %q, want aws.instance", f.Type)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("fault\n  %v\nwant it to contain\n  %s", err, tt.want)
			}
			if tt.leaks != "" && strings.Contains(err.Error(), tt.leaks) {
				t.Errorf("fault %q shows the sensitive value %q", err, tt.leaks)
			}
		})
	}
}

func TestCheckerPassesProviderErrorsThrough(t *testing.T) {
	cause := fmt.Errorf("create %s: %w", addr, context.DeadlineExceeded)
	err := createCall(t.Context(), Wrap(&scripted{err: cause}))
	if err != cause {
		t.Errorf("error %v, want the provider's own %v", err, cause)
	}
	// A redacted error still unwraps to its cause.
	leaky := fmt.Errorf("create with hunter2-secret: %w", context.Canceled)
	err = createCall(t.Context(), Wrap(&scripted{err: leaky}))
	if !errors.Is(err, context.Canceled) {
		t.Errorf("redacted error %v does not unwrap to context.Canceled", err)
	}
	// Short sensitive values are not searched for: they would match words.
	short := &scripted{err: errors.New("no pass")}
	if _, err := Wrap(short).Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: map[string]any{"type": "x", "password": "pas"}}); err != short.err {
		t.Errorf("error %v, want the provider's own", err)
	}
}
