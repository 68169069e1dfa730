package engine_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/state"
)

// TestPlanRecoversInterruptedApply simulates an apply killed after some
// operations were recorded in the journal but before its final snapshot:
// the next plan folds the journal into a new snapshot and plans only what
// is left.
func TestPlanRecoversInterruptedApply(t *testing.T) {
	for _, kind := range []storeKind{memStore, fileStore} {
		name := map[storeKind]string{memStore: "mem", fileStore: "file"}[kind]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, kind)
			e.planApply(`x = null.resource(name = "x", triggers = {"v": "1"})` + "\n")
			// The interrupted apply replaced x (its delete is recorded,
			// its create is not) and created a, but not b.
			e.write("ferry.star", `x = null.resource(name = "x", triggers = {"v": "2"})
a = null.resource(name = "a", triggers = {"v": "1"})
b = null.resource(name = "b", triggers = {"a": a.id})
`)
			interrupted := e.plan(engine.PlanOptions{})
			if diff := cmp.Diff(map[string]string{
				"null.resource.x": "replace because triggers",
				"null.resource.a": "create",
				"null.resource.b": "create",
			}, summarize(interrupted)); diff != "" {
				t.Fatalf("plan of the interrupted apply (-want +got):\n%s", diff)
			}
			aAttrs := map[string]any{"id": "4242", "triggers": map[string]any{"v": "1"}}
			appendJournal(t, e.store,
				state.Change{Addr: "null.resource.x"},
				state.Change{Addr: "null.resource.a", Resource: &state.Resource{Type: "null.resource", Attrs: aAttrs, DeclaredAt: "ferry.star:2:5"}},
			)
			e.takeEvents()

			p := e.plan(engine.PlanOptions{})
			var recovered []engine.Event
			for _, ev := range e.takeEvents() {
				if ev.Kind == engine.EventRecovered {
					recovered = append(recovered, ev)
				}
			}
			if len(recovered) != 1 || recovered[0].Serial != 2 {
				t.Errorf("recovered events %+v, want one for serial 2", recovered)
			}
			want := map[string]string{
				"null.resource.x": "create",
				"null.resource.a": "noop",
				"null.resource.b": "create",
			}
			if diff := cmp.Diff(want, summarize(p)); diff != "" {
				t.Errorf("plan after recovery (-want +got):\n%s", diff)
			}
			if p.State.Serial != 2 {
				t.Errorf("plan made against serial %d, want 2 (the recovered snapshot)", p.State.Serial)
			}
			// b is planned with a's recorded id, and the journal is gone.
			if got := p.Resource("null.resource.b").After["triggers"]; !cmp.Equal(got, map[string]any{"a": "4242"}) {
				t.Errorf("b's planned triggers = %v, want a's recorded id", got)
			}
			st, info, err := e.store.Read(t.Context(), testDeployment)
			if err != nil {
				t.Fatal(err)
			}
			if info.JournalSegments != 0 || st.Serial != 2 {
				t.Errorf("after recovery: serial %d, %d journal segments; want serial 2 and none", st.Serial, info.JournalSegments)
			}
			if diff := cmp.Diff([]string{"null.resource.a"}, st.Addrs()); diff != "" {
				t.Errorf("recovered state (-want +got):\n%s", diff)
			}
			// The interrupted apply's plan is stale now; the new one applies.
			if _, err := e.eng.Apply(t.Context(), interrupted, engine.ApplyOptions{Dir: e.dir}); !asStale(err) {
				t.Errorf("apply of the interrupted plan: %v, want a stale plan", err)
			}
			res := e.apply(p)
			if res.Added != 2 || res.Serial != 3 {
				t.Errorf("apply after recovery: added %d, serial %d; want 2 and 3", res.Added, res.Serial)
			}
			st = e.state()
			if got := st.Resources["null.resource.a"].Attrs["id"]; got != "4242" {
				t.Errorf("a's id = %v after apply, want the recorded 4242 (not created twice)", got)
			}
			if len(st.Resources) != 3 {
				t.Errorf("final state %v, want x, a and b", st.Addrs())
			}
		})
	}
}

// TestPlanRecoversFirstApply recovers a journal written before the
// deployment's first snapshot: the recovered snapshot gets a lineage.
func TestPlanRecoversFirstApply(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", `a = null.resource(name = "a")
b = null.resource(name = "b")
`)
	appendJournal(t, e.store, state.Change{Addr: "null.resource.a", Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "1", "triggers": map[string]any{}}}})
	p := e.plan(engine.PlanOptions{})
	if p.State.Serial != 1 || p.State.Lineage == "" {
		t.Errorf("planned against %+v, want serial 1 with a lineage", p.State)
	}
	if diff := cmp.Diff(map[string]string{"null.resource.a": "noop", "null.resource.b": "create"}, summarize(p)); diff != "" {
		t.Errorf("plan (-want +got):\n%s", diff)
	}
	e.apply(p)
	if st := e.state(); st.Serial != 2 || len(st.Resources) != 2 {
		t.Errorf("state after apply: serial %d, %v", st.Serial, st.Addrs())
	}
}
