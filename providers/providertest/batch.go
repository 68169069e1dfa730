package providertest

import (
	"fmt"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
)

// batchRefresh: ReadMany answers exactly as one Read per request would,
// in the requests' order, nil for an object that is gone, and (when the
// Case counts calls) in at most ceil(N/PageSize)+1 calls.
func batchRefresh(t *testing.T, c Case) {
	h := newHarness(t, c)
	br := h.r.(providers.BatchReader)
	n := c.BatchObjects
	if n == 0 {
		n = 5
		if c.PageSize > 0 {
			n = c.PageSize + 2
		}
	}
	states := make([]map[string]any, n)
	for i := range states {
		states[i] = h.create(fmt.Sprintf("create %d of %d", i+1, n), h.distinct(i))
	}
	missing := -1
	if c.External && n > 1 {
		missing = 1
		h.delete("delete one", states[missing])
	}
	// Reverse order and a repeat, so that answering in the provider's own
	// order, or once per object, shows.
	var reqs []providers.ReadRequest
	var from []int // reqs[i] reads states[from[i]]
	for i := n - 1; i >= 0; i-- {
		reqs = append(reqs, providers.ReadRequest{Addr: fmt.Sprintf("%s_%d", h.addr, i), Prior: clone(states[i])})
		from = append(from, i)
	}
	reqs = append(reqs, providers.ReadRequest{Addr: h.addr + "_again", Prior: clone(states[0])})
	from = append(from, 0)

	before, counted := h.calls()
	resps, err := br.ReadMany(h.ctx, reqs)
	after, _ := h.calls()
	if err != nil {
		t.Fatalf("ReadMany of %d objects: %v", len(reqs), err)
	}
	if counted && c.PageSize > 0 {
		if limit := (len(reqs)+c.PageSize-1)/c.PageSize + 1; after-before > limit {
			t.Errorf("ReadMany of %d objects made %d calls, want at most %d (pages of %d, plus one)", len(reqs), after-before, limit, c.PageSize)
		}
	}
	for i, req := range reqs {
		if from[i] == missing {
			if resps[i].State != nil {
				t.Errorf("ReadMany[%d] (%s): got %v for an object that is gone, want nil", i, req.Addr, resps[i].State)
			}
			continue
		}
		want := h.read(fmt.Sprintf("read %s", req.Addr), req.Prior)
		if diff := cmp.Diff(want, resps[i].State); diff != "" {
			t.Errorf("ReadMany[%d] (%s) differs from Read of the same object (-Read +ReadMany):\n%s", i, req.Addr, diff)
		}
	}

	empty, err := br.ReadMany(h.ctx, nil)
	if err != nil || len(empty) != 0 {
		t.Errorf("ReadMany of nothing: %d responses, error %v; want none and no error", len(empty), err)
	}
	for i, st := range states {
		if i != missing {
			h.delete("cleanup", st)
		}
	}
}
