package providertest

import (
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// steady checks that reading and re-planning an unchanged object is a no-op.
func (h *harness) steady(step string, st, config map[string]any) {
	h.t.Helper()
	if diff := cmp.Diff(st, h.read(step+": read", st)); diff != "" {
		h.t.Errorf("%s: Read after apply changed the state (-applied +read):\n%s", step, diff)
	}
	p := h.plan(step+": plan with unchanged arguments", st, config)
	if len(p.RequiresReplace) > 0 {
		h.t.Errorf("%s: unchanged arguments require replacing %v", step, p.RequiresReplace)
	}
	if diff := cmp.Diff(st, p.Planned); diff != "" {
		h.t.Errorf("%s: unchanged arguments plan a change (-prior +planned):\n%s", step, diff)
	}
}

// lifecycle creates, reads, updates, replaces and deletes one object.
func lifecycle(t *testing.T, c Case) {
	h := newHarness(t, c)
	cfg := Config(h.schema, c.Create)

	st := h.create("create", cfg)
	h.steady("after create", st, cfg)

	if c.Update != nil {
		cfg = Config(h.schema, c.Create, c.Update)
		p := h.plan("update", st, cfg)
		if len(p.RequiresReplace) > 0 {
			t.Errorf("update: arguments %v require replacing %v; Case.Update must change the resource in place", c.Update, p.RequiresReplace)
		}
		if reflect.DeepEqual(p.Planned, st) {
			t.Errorf("update: arguments %v plan no change; Case.Update must change something", c.Update)
		}
		st = h.apply("update", providers.Update, st, p.Planned, "")
		for k, want := range c.Update {
			if diff := cmp.Diff(want, st[k]); diff != "" {
				t.Errorf("update: attribute %q after apply (-argument +state):\n%s", k, diff)
			}
		}
		h.steady("after update", st, cfg)
	}

	if c.Replace != nil {
		cfg = Config(h.schema, c.Create, c.Update, c.Replace)
		p := h.plan("replace", st, cfg)
		if len(p.RequiresReplace) == 0 {
			t.Errorf("replace: arguments %v do not require replacement; Case.Replace must change a ForceNew attribute", c.Replace)
		}
		// A replacement is a delete followed by a create.
		h.delete("replace", st)
		st = h.create("replace: create", cfg)
		h.steady("after replace", st, cfg)
	}

	h.delete("delete", st)
	h.gone("after delete", st)
	// A crashed apply may delete again what is already gone.
	h.delete("delete again", st)
}

// unknownArgs plans with each argument unknown in turn, as when it refers to
// a resource that does not exist yet.
func unknownArgs(t *testing.T, c Case) {
	h := newHarness(t, c)
	cfg := Config(h.schema, c.Create)
	st := h.create("create", cfg)
	for _, name := range slices.Sorted(maps.Keys(cfg)) {
		step := fmt.Sprintf("argument %q unknown", name)
		u := maps.Clone(cfg)
		u[name] = spec.Unknown{Source: "other.thing.x.id"}
		h.plan(step+", creating", nil, u)
		p := h.plan(step+", updating", st, u)
		if a, ok := h.schema.Attr(name); ok && a.ForceNew && !slices.Contains(p.RequiresReplace, name) {
			t.Errorf("%s: ForceNew attribute not in RequiresReplace %v (an unknown value may differ)", step, p.RequiresReplace)
		}
	}
	h.delete("cleanup", st)
}

// concurrentCreates creates, reads and deletes objects from many
// goroutines at once, as apply does; with -race it finds shared state.
func concurrentCreates(t *testing.T, c Case) {
	const n = 20
	h := newHarness(t, c)
	states := make([]map[string]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Config: h.distinct(i)})
			if err != nil {
				t.Errorf("create %d: Plan: %v", i, err)
				return
			}
			resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: p.Planned, Token: token()})
			if err != nil {
				t.Errorf("create %d: Apply: %v", i, err)
				return
			}
			if _, err := h.r.Read(h.ctx, providers.ReadRequest{Addr: h.addr, Prior: resp.State}); err != nil {
				t.Errorf("create %d: Read: %v", i, err)
			}
			states[i] = resp.State
		})
	}
	wg.Wait()
	for i := range n {
		wg.Go(func() {
			if states[i] == nil {
				return
			}
			if _, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Delete, Prior: states[i]}); err != nil {
				t.Errorf("delete %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}
