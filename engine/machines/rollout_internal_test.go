package machines

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/graph"
)

// TestRolloutBatchesFollowDependencies: a machine never lands in a batch
// before a machine it depends on, directly or through a resource, so the
// gates cannot form a cycle with the dependency edges.
func TestRolloutBatchesFollowDependencies(t *testing.T) {
	deploy := func(name string, tags ...string) *plan.Machine {
		return &plan.Machine{Name: name, Addr: "machine." + name, Action: plan.Deploy, Tags: tags}
	}
	p := &plan.Plan{
		Machines: []*plan.Machine{deploy("app", "web"), deploy("cache", "web"), deploy("db", "web"), deploy("lb", "web"), deploy("other")},
		Edges: [][2]string{
			{"machine.db", "null.resource.schema"}, {"null.resource.schema", "machine.app"}, // app after db, through a resource
			{"machine.app", "machine.lb"},
		},
	}
	ro := PlanRollout(&spec.Rollout{Batch: 1, Tags: []string{"web"}}, p)
	want := [][]string{{"machine.cache"}, {"machine.db"}, {"machine.app"}, {"machine.lb"}}
	if d := cmp.Diff(want, ro.Batches); d != "" {
		t.Errorf("batches (-want +got):\n%s", d)
	}
	// The apply graph of this plan with its gates has no cycle.
	g := graph.New[string]()
	for _, e := range p.Edges {
		g.Connect(e[0], e[1])
	}
	AddRolloutGates(g, ro)
	res := g.Walk(t.Context(), 4, func(context.Context, string, func()) error { return nil })
	if !res.OK() {
		t.Errorf("walk of the plan's graph with its gates: failed %v", res.Failed)
	}
	if p.Machine("machine.other").Batch != 0 {
		t.Errorf("a machine without the rollout's tags is in batch %d", p.Machine("machine.other").Batch)
	}
}
