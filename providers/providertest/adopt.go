package providertest

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
)

// killDuringCreate simulates ferry killed between a create call and its
// record: the create's response is dropped. Adopt with the create's token
// must then find the object, and the token must not lead to a second
// object: a retried create returns the first (Case.Idempotent), or the
// engine adopts instead of retrying (adoption only). Once that object is
// deleted, Adopt finds nothing: no second object was made.
func killDuringCreate(t *testing.T, c Case) {
	h := newHarness(t, c)
	a := h.r.(providers.Adopter)
	p := h.plan("create", nil, Config(h.schema, c.Create))
	tok := token()
	adopt := func(step, tok string) map[string]any {
		t.Helper()
		resp, err := a.Adopt(h.ctx, providers.AdoptRequest{Addr: h.addr, Token: tok, Planned: clone(p.Planned)})
		if err != nil {
			t.Fatalf("%s: Adopt: %v", step, err)
		}
		return resp.State
	}

	if got := adopt("before any create", tok); got != nil {
		t.Fatalf("before any create: Adopt of a token no create used returned %v, want nil", got)
	}
	dropped := h.apply("create, response dropped", providers.Create, nil, p.Planned, tok)

	adopted := adopt("after the kill", tok)
	if adopted == nil {
		h.delete("cleanup", dropped)
		t.Fatalf("after the kill: Adopt with the create's token found nothing; the create must pass the token to the cloud (a client token, a tag) so that the object can be found by it")
	}
	h.checkState("after the kill", "Adopt", adopted, nil)
	if diff := cmp.Diff(h.without(dropped), h.without(adopted)); diff != "" {
		t.Errorf("after the kill: Adopt returned another object than the create made (-created +adopted):\n%s", diff)
	}
	if diff := cmp.Diff(h.without(h.read("after the kill: read", adopted)), h.without(adopted)); diff != "" {
		t.Errorf("after the kill: adopted state differs from a Read of it (-read +adopted):\n%s", diff)
	}

	if c.Idempotent {
		again := h.apply("create retried with the same token", providers.Create, nil, p.Planned, tok)
		if diff := cmp.Diff(h.without(adopted), h.without(again)); diff != "" {
			t.Errorf("create retried with the same token: returned another object than the first create made (-first +retried):\n%s", diff)
		}
	}

	h.delete("delete the adopted object", adopted)
	if got := adopt("after deleting it", tok); got != nil {
		h.delete("cleanup", got)
		t.Errorf("after deleting the adopted object: Adopt still finds %v; the token made a second object", got)
	}
	if got := adopt("another token", token()); got != nil {
		t.Errorf("Adopt of a token no create used returned %v, want nil", got)
	}
}
