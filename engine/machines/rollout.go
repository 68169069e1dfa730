package machines

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/graph"
)

// Rolling batches: between batch n and batch n+1 of the plan's rollout
// sits a gate node (plan.GateAddr(n)). The gate waits for every machine of
// batch n to finish, successful or not (ordering edges), then counts the
// failures of batches 1..n: more than max_failures fails the gate, which
// skips every later batch (they are "not touched"); otherwise it pauses
// and lets batch n+1 start. Gates chain, so a stop is final.

// AddRolloutGates adds the gates of ro to g, the graph apply walks
// (engine.PlanGraph), and returns the batch each gate follows, by
// address.
func AddRolloutGates(g *graph.Graph[string], ro *plan.Rollout) map[string]int {
	gates := map[string]int{}
	if ro == nil {
		return gates
	}
	for n := 1; n < len(ro.Batches); n++ {
		gate := plan.GateAddr(n)
		gates[gate] = n
		g.Add(gate)
		for _, a := range ro.Batches[n-1] {
			g.ConnectAfter(a, gate)
		}
		if n > 1 {
			g.Connect(plan.GateAddr(n-1), gate)
		}
		for _, a := range ro.Batches[n] {
			g.Connect(gate, a)
		}
	}
	return gates
}

// gateBatches maps each gate of ro to the batch it follows, as
// AddRolloutGates adds them.
func gateBatches(ro *plan.Rollout) map[string]int {
	gates := map[string]int{}
	if ro != nil {
		for n := 1; n < len(ro.Batches); n++ {
			gates[plan.GateAddr(n)] = n
		}
	}
	return gates
}

// Gate runs the rollout gate at addr: every machine of the batches before
// it has finished (ordering edges), successful or not. More failures than
// max_failures fail the gate, and the walk skips every later batch;
// otherwise it pauses (interrupted by ctx) and lets the next batch start.
// The core reports a failed gate (engine.EventFailed).
func (r *Run) Gate(ctx context.Context, gate string) error {
	ro := r.p.Rollout
	n, ok := r.gates[gate]
	if !ok || ro == nil {
		return fmt.Errorf("%s: not a rollout gate of the plan", gate)
	}
	// Every machine of these batches has finished (ordering edges): a
	// machine that did not deploy, because it failed or because something
	// it depends on failed, counts as a failure.
	var failed []string
	r.mu.Lock()
	for _, batch := range ro.Batches[:n] {
		for _, a := range batch {
			if !r.done[a] {
				failed = append(failed, a)
			}
		}
	}
	r.mu.Unlock()
	if len(failed) > ro.MaxFailures {
		var untouched []string
		for _, batch := range ro.Batches[n:] {
			untouched = append(untouched, batch...)
		}
		return fmt.Errorf("rollout stopped after batch %d of %d: %s failed (%s), more than max_failures = %d; not touched: %s",
			n, len(ro.Batches), spec.Count(len(failed), "machine"), strings.Join(failed, ", "), ro.MaxFailures, strings.Join(untouched, ", "))
	}
	msg := fmt.Sprintf("rollout: batch %d of %d done (%d failed so far, max_failures %d)", n, len(ro.Batches), len(failed), ro.MaxFailures)
	pause, _ := time.ParseDuration(ro.Pause)
	if pause > 0 {
		msg += fmt.Sprintf("; pausing %s before batch %d", pause, n+1)
	}
	r.sink.Progress(gate, 0, msg)
	if pause > 0 {
		select {
		case <-ctx.Done():
			// Interrupted: the walk starts nothing more and reports the
			// later batches as not started.
		case <-time.After(pause):
		}
	}
	return nil
}

// PlanRollout splits the machines to deploy that the rollout covers into
// batches and numbers each machine's batch. Machines are ordered by their
// depth in the plan's execution edges (the core computes them first), then by address, so that a machine
// never lands in a batch before one it depends on (its gate would wait for
// it: a cycle); a dependency and its dependent may share a batch.
func PlanRollout(ro *spec.Rollout, p *plan.Plan) *plan.Rollout {
	if ro == nil {
		return nil
	}
	g := graph.New[string]()
	for _, e := range p.Edges {
		g.Connect(e[0], e[1])
	}
	depth := map[string]int{}
	if order, err := g.TopoOrder(); err == nil {
		for _, n := range order {
			for _, pred := range g.Pred(n) {
				depth[n] = max(depth[n], depth[pred]+1)
			}
		}
	}
	var in []*plan.Machine
	for _, pm := range p.Machines {
		if pm.Action == plan.Deploy && (len(ro.Tags) == 0 || hasAnyTag(pm.Tags, ro.Tags)) {
			in = append(in, pm)
		}
	}
	sort.SliceStable(in, func(i, j int) bool {
		if depth[in[i].Addr] != depth[in[j].Addr] {
			return depth[in[i].Addr] < depth[in[j].Addr]
		}
		return in[i].Addr < in[j].Addr
	})
	size := ro.Batch
	if ro.BatchPercent > 0 {
		size = (len(in)*ro.BatchPercent + 99) / 100
	}
	size = max(size, 1)
	out := &plan.Rollout{Batch: ro.Batch, BatchPercent: ro.BatchPercent, MaxFailures: ro.MaxFailures, Tags: ro.Tags,
		Batches: [][]string{}, DeclaredAt: ro.Pos.String()}
	if ro.Pause > 0 {
		out.Pause = ro.Pause.String()
	}
	for i := 0; i < len(in); i += size {
		var batch []string
		for _, pm := range in[i:min(i+size, len(in))] {
			pm.Batch = len(out.Batches) + 1
			batch = append(batch, pm.Addr)
		}
		out.Batches = append(out.Batches, batch)
	}
	return out
}

func hasAnyTag(tags, want []string) bool {
	for _, t := range tags {
		for _, w := range want {
			if t == w {
				return true
			}
		}
	}
	return false
}
