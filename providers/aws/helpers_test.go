package aws_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/aws"
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/checked"
	"github.com/nixferry/ferry/providers/providertest"
)

// testConfig is the provider configuration of tests: moto as the endpoint.
func testConfig(env *awstest.Env) map[string]any {
	return map[string]any{"region": env.Region, "endpoint": env.URL}
}

// configure returns a client of the test bed, with args over testConfig.
func configure(t testing.TB, env *awstest.Env, args map[string]any) *aws.Client {
	t.Helper()
	cfg := testConfig(env)
	for k, v := range args {
		cfg[k] = v
	}
	c, err := aws.New().Configure(t.Context(), providers.ConfigureRequest{Config: cfg})
	if err != nil {
		t.Fatalf("configure: %v", err)
	}
	return c.(*aws.Client)
}

// resource returns type typ of c behind the runtime checker, as the
// engine sees it.
func resource(t *testing.T, c *aws.Client, typ string) providers.Resource {
	t.Helper()
	r, ok := c.Resources()[typ]
	if !ok {
		t.Fatalf("no type %s", typ)
	}
	return checked.Wrap(r)
}

// object is one resource in a test: its address, schema and state.
type object struct {
	t      *testing.T
	r      providers.Resource
	addr   string
	config map[string]any
	state  map[string]any
}

func newObject(t *testing.T, r providers.Resource, name string, args map[string]any) *object {
	s := r.Schema()
	return &object{t: t, r: r, addr: spec.ResourceAddr(s.Type, name), config: providertest.Config(s, args)}
}

// plan plans o's configuration over its state.
func (o *object) plan() providers.PlanResponse {
	o.t.Helper()
	p, err := o.r.Plan(o.t.Context(), providers.PlanRequest{Addr: o.addr, Prior: spec.CloneMap(o.state), Config: spec.CloneMap(o.config)})
	if err != nil {
		o.t.Fatalf("plan %s: %v", o.addr, err)
	}
	return p
}

// create plans and creates o.
func (o *object) create(token string) map[string]any {
	o.t.Helper()
	p := o.plan()
	resp, err := o.r.Apply(o.t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Create, Planned: p.Planned, Token: token})
	if err != nil {
		o.t.Fatalf("create %s: %v", o.addr, err)
	}
	o.state = resp.State
	return o.state
}

// refresh reads o; nil when it is gone.
func (o *object) refresh() map[string]any {
	o.t.Helper()
	resp, err := o.r.Read(o.t.Context(), providers.ReadRequest{Addr: o.addr, Prior: spec.CloneMap(o.state)})
	if err != nil {
		o.t.Fatalf("read %s: %v", o.addr, err)
	}
	o.state = resp.State
	return o.state
}

// update plans o's configuration and applies it as an update, which the
// plan must call for.
func (o *object) update() map[string]any {
	o.t.Helper()
	p := o.plan()
	if len(p.RequiresReplace) > 0 {
		o.t.Fatalf("update %s: plan replaces %v", o.addr, p.RequiresReplace)
	}
	if cmp.Equal(p.Planned, o.state) {
		o.t.Fatalf("update %s: plan changes nothing", o.addr)
	}
	resp, err := o.r.Apply(o.t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Update, Prior: spec.CloneMap(o.state), Planned: p.Planned})
	if err != nil {
		o.t.Fatalf("update %s: %v", o.addr, err)
	}
	o.state = resp.State
	return o.state
}

// steady fails the test when a refresh and plan of o would change it.
func (o *object) steady(step string) {
	o.t.Helper()
	before := spec.CloneMap(o.state)
	if diff := cmp.Diff(before, o.refresh()); diff != "" {
		o.t.Errorf("%s: read changed the state (-before +read):\n%s", step, diff)
	}
	if diff := cmp.Diff(o.state, o.plan().Planned); diff != "" {
		o.t.Errorf("%s: plan is not a no-op (-state +planned):\n%s", step, diff)
	}
}

func (o *object) delete() {
	o.t.Helper()
	if _, err := o.r.Apply(o.t.Context(), providers.ApplyRequest{Addr: o.addr, Action: providers.Delete, Prior: spec.CloneMap(o.state)}); err != nil {
		o.t.Fatalf("delete %s: %v", o.addr, err)
	}
}

func num(i int64) any { return spec.Number(i) }
