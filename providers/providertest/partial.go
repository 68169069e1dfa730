package providertest

import (
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers"
)

// partialState: a create that fails after the object came into being
// returns the error and the partial state of what exists, which the
// engine records as tainted; that state reads, adopts and deletes like
// any other, so that the next apply can replace it.
func partialState(t *testing.T, c Case) {
	h := newHarness(t, c)
	p := h.plan("failing create", nil, Config(h.schema, c.Create, c.Fail))
	tok := token()
	resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: clone(p.Planned), Token: tok})
	if err == nil {
		if resp.State != nil {
			h.delete("cleanup", resp.State)
		}
		t.Fatalf("failing create: succeeded; Case.Fail must make the create fail after the object exists")
	}
	h.noFault("failing create", err)
	if !strings.Contains(err.Error(), h.addr) {
		t.Errorf("failing create: error %q does not name %s", err, h.addr)
	}
	st := resp.State
	if st == nil {
		t.Fatalf("failing create: returned the error %q and no partial state; return what exists of the object with the error, so that it is recorded (tainted) and replaced, not leaked", err)
	}
	h.roundTrip("failing create", st)
	if c.External {
		if got := h.read("failing create: read the partial object", st); got == nil {
			t.Errorf("failing create: Read of the partial state finds nothing; the partial state must identify the object that exists")
		}
	}
	if a, ok := h.r.(providers.Adopter); ok {
		found, err := a.Adopt(h.ctx, providers.AdoptRequest{Addr: h.addr, Token: tok, Planned: p.Planned})
		if err != nil {
			t.Errorf("failing create: Adopt: %v", err)
		} else if found.State == nil {
			t.Errorf("failing create: Adopt of its token finds nothing; the partial object must carry the token")
		}
	}
	h.delete("delete the partial object", st)
	h.gone("after deleting the partial object", st)
}
