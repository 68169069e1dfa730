package engine_test

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
)

const chainConfig = `a = null.resource(name = "a")
b = null.resource(name = "b", triggers = {"a": a.id})
c = null.resource(name = "c", triggers = {"b": b.id})
`

func TestExecutionEdges(t *testing.T) {
	tests := []struct {
		name    string
		applied string
		config  string
		opts    engine.PlanOptions
		want    []string
	}{
		{
			name:   "a chain of creates stores only direct edges",
			config: chainConfig,
			want: []string{
				"null.resource.a -> null.resource.b",
				"null.resource.b -> null.resource.c",
			},
		},
		{
			name: "every direct dependency is an edge",
			config: chainConfig + `d = null.resource(name = "d", triggers = {"a": a.id}, depends_on = [c])
`,
			want: []string{
				"null.resource.a -> null.resource.b",
				"null.resource.a -> null.resource.d",
				"null.resource.b -> null.resource.c",
				"null.resource.c -> null.resource.d",
			},
		},
		{
			name:    "a create depending on an unchanged resource needs no edge",
			applied: chainConfig,
			config:  chainConfig + `d = null.resource(name = "d", triggers = {"c": c.id})` + "\n",
			want:    []string{},
		},
		{
			name:    "an update waits for the replacement it refers to",
			applied: chainConfig + `f = local.file(name = "f", path = "f.txt", content = "x")` + "\n",
			config:  chainConfig + `f = local.file(name = "f", path = "f.txt", content = b.id)` + "\n",
			opts:    engine.PlanOptions{Replace: []string{"null.resource.b"}},
			want: []string{
				"null.resource.b -> local.file.f",
				"null.resource.b -> null.resource.c",
			},
		},
		{
			name:    "deletes of removed resources run in reverse dependency order",
			applied: chainConfig,
			config:  "",
			want: []string{
				"null.resource.b -> null.resource.a",
				"null.resource.c -> null.resource.b",
			},
		},
		{
			name:    "destroy runs in reverse dependency order",
			applied: chainConfig,
			config:  chainConfig,
			opts:    engine.PlanOptions{Destroy: true},
			want: []string{
				"null.resource.b -> null.resource.a",
				"null.resource.c -> null.resource.b",
			},
		},
		{
			name:    "a removed resource goes before the replaced resource it depended on",
			applied: chainConfig,
			config:  `a = null.resource(name = "a", triggers = {"v": "2"})` + "\n",
			want: []string{
				"null.resource.b -> null.resource.a",
				"null.resource.c -> null.resource.b",
			},
		},
		{
			name:    "a replaced resource goes before the removed resource it depended on",
			applied: chainConfig,
			config: `b = null.resource(name = "b", triggers = {"v": "2"})
c = null.resource(name = "c", triggers = {"b": b.id})
`,
			want: []string{
				"null.resource.b -> null.resource.a",
				"null.resource.b -> null.resource.c",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			if tt.applied != "" {
				e.planApply(tt.applied)
			}
			e.write("ferry.star", tt.config)
			p := e.plan(tt.opts)
			if diff := cmp.Diff(tt.want, edges(p)); diff != "" {
				t.Errorf("edges (-want +got):\n%s\nplan: %v", diff, summarize(p))
			}
			// Whatever the plan, applying it must follow the edges.
			e.takeEvents()
			e.apply(p)
			checkOrder(t, p, e.takeEvents())
		})
	}
}

// checkOrder verifies that for every edge, from was done before to started.
func checkOrder(t *testing.T, p *plan.Plan, evs []engine.Event) {
	t.Helper()
	done, start := map[string]int{}, map[string]int{}
	for i, ev := range evs {
		switch ev.Kind {
		case engine.EventDone:
			done[ev.Addr] = i
		case engine.EventStart:
			start[ev.Addr] = i
		}
	}
	for _, edge := range p.Edges {
		d, okD := done[edge[0]]
		s, okS := start[edge[1]]
		if !okD || !okS || d > s {
			t.Errorf("edge %s -> %s: done at event %d (%v), next started at event %d (%v)", edge[0], edge[1], d, okD, s, okS)
		}
	}
}

// TestDestroyOrderLayered destroys a layered graph and checks, from the
// events, that nothing was deleted while something depending on it existed.
func TestDestroyOrderLayered(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", layeredConfig)
	cfg := e.load(map[string]string{"n": "40"})
	p, err := e.eng.Plan(t.Context(), cfg, engine.PlanOptions{Deployment: testDeployment})
	if err != nil {
		t.Fatal(err)
	}
	e.apply(p)
	deps := map[string][]string{}
	for addr, rec := range e.state().Resources {
		deps[addr] = rec.Deps
	}
	p, err = e.eng.Plan(t.Context(), cfg, engine.PlanOptions{Deployment: testDeployment, Destroy: true})
	if err != nil {
		t.Fatal(err)
	}
	// 9 layers of 4 resources, each depending on 2 of the layer before.
	if got := len(p.Edges); got != 9*4*2 {
		t.Errorf("destroy plan has %d edges, want %d", got, 9*4*2)
	}
	e.takeEvents()
	res, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir, Parallelism: 8})
	if err != nil || res.Err() != nil {
		t.Fatalf("apply destroy: %v %v", err, res.Err())
	}
	if res.Destroyed != 40 {
		t.Errorf("destroyed %d, want 40", res.Destroyed)
	}
	deleted := map[string]bool{}
	for _, ev := range e.takeEvents() {
		switch ev.Kind {
		case engine.EventStart:
			for dependent, ds := range deps {
				if slices.Contains(ds, ev.Addr) && !deleted[dependent] {
					t.Errorf("%s started deleting while %s, which depends on it, still existed", ev.Addr, dependent)
				}
			}
		case engine.EventDone:
			deleted[ev.Addr] = true
		}
	}
	if len(deleted) != 40 {
		t.Errorf("%d deletions done, want 40", len(deleted))
	}
	if n := len(e.state().Resources); n != 0 {
		t.Errorf("state holds %d resources after destroy, want 0", n)
	}
}

// TestNoopRecordsDependencies adds dependencies without changing any
// value: the resources stay unchanged, but state must learn the new
// dependencies, since later deletions are ordered by them.
func TestNoopRecordsDependencies(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(`a = null.resource(name = "a")
b = null.resource(name = "b")
g = local.file(name = "g", path = "g.txt", content = "1")
f = local.file(name = "f", path = "f.txt", content = "1")
`)
	e.write("ferry.star", `a = null.resource(name = "a")
b = null.resource(name = "b", depends_on = [a])
g = local.file(name = "g", path = "g.txt", content = "1")
f = local.file(name = "f", path = "f.txt", content = g.content)
`)
	p := e.plan(engine.PlanOptions{})
	for addr, s := range summarize(p) {
		if s != "noop" {
			t.Errorf("%s: %s, want noop", addr, s)
		}
	}
	res := e.apply(p)
	st := e.state()
	got := map[string][]string{}
	for addr, rec := range st.Resources {
		if len(rec.Deps) > 0 {
			got[addr] = rec.Deps
		}
	}
	want := map[string][]string{"null.resource.b": {"null.resource.a"}, "local.file.f": {"local.file.g"}}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("dependencies in state (-want +got):\n%s", diff)
	}
	if res.Serial != 2 || st.Serial != 2 {
		t.Errorf("serial %d (result %d), want 2: new dependencies are a change of state", st.Serial, res.Serial)
	}
	// Applying the same plan again changes nothing.
	if res := e.apply(e.plan(engine.PlanOptions{})); res.Serial != 2 {
		t.Errorf("second no-op apply: serial %d, want 2", res.Serial)
	}
	e.write("ferry.star", "")
	p = e.plan(engine.PlanOptions{})
	wantEdges := []string{"local.file.f -> local.file.g", "null.resource.b -> null.resource.a"}
	if diff := cmp.Diff(wantEdges, edges(p)); diff != "" {
		t.Errorf("edges of removing everything (-want +got):\n%s", diff)
	}
}

// TestDestroyUsesConfiguredDependencies destroys right after a dependency
// was added without changing any value (so state does not know it yet):
// the dependent still goes first.
func TestDestroyUsesConfiguredDependencies(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(`a = null.resource(name = "a")
b = null.resource(name = "b")
`)
	e.write("ferry.star", `a = null.resource(name = "a")
b = null.resource(name = "b", depends_on = [a])
`)
	p := e.plan(engine.PlanOptions{Destroy: true})
	if diff := cmp.Diff([]string{"null.resource.b -> null.resource.a"}, edges(p)); diff != "" {
		t.Errorf("destroy edges (-want +got):\n%s", diff)
	}
	// Reversed: state says b depends on a, the configuration the
	// opposite. The configuration wins, and there is no cycle.
	e.apply(e.plan(engine.PlanOptions{}))
	e.write("ferry.star", `a = null.resource(name = "a", depends_on = ["null.resource.b"])
b = null.resource(name = "b")
`)
	p = e.plan(engine.PlanOptions{Destroy: true})
	if diff := cmp.Diff([]string{"null.resource.a -> null.resource.b"}, edges(p)); diff != "" {
		t.Errorf("destroy edges after reversing (-want +got):\n%s", diff)
	}
	e.takeEvents()
	e.apply(p)
	checkOrder(t, p, e.takeEvents())
}
