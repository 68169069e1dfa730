package fakecloud

import (
	"testing"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// configure configures p with alias and args (region r1 unless given),
// and returns the cloud.
func configure(t *testing.T, p *Provider, alias string, args map[string]any) *Cloud {
	t.Helper()
	cfg := map[string]any{"region": "r1"}
	for k, v := range args {
		cfg[k] = v
	}
	c, err := p.Configure(t.Context(), providers.ConfigureRequest{Alias: alias, Config: cfg})
	if err != nil {
		t.Fatal(err)
	}
	return c.(*Cloud)
}

// resource returns typ of c behind the runtime checker, as the engine
// sees it.
func resource(c *Cloud, typ string) providers.Resource { return checked.Wrap(c.Resources()[typ]) }

// create plans and applies a create of typ with args and token.
func create(t *testing.T, c *Cloud, typ, addr, token string, args map[string]any) (map[string]any, error) {
	t.Helper()
	r := resource(c, typ)
	p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: args})
	if err != nil {
		t.Fatalf("plan %s: %v", addr, err)
	}
	resp, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned, Token: token})
	return resp.State, err
}

func mustCreate(t *testing.T, c *Cloud, typ, addr, token string, args map[string]any) map[string]any {
	t.Helper()
	st, err := create(t, c, typ, addr, token, args)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func read(t *testing.T, c *Cloud, typ string, st map[string]any) map[string]any {
	t.Helper()
	resp, err := resource(c, typ).Read(t.Context(), providers.ReadRequest{Addr: typ + ".x", Prior: st})
	if err != nil {
		t.Fatal(err)
	}
	return resp.State
}
