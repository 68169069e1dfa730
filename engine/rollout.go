package engine

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/graph"
)

// Rolling batches: between batch n and batch n+1 of the plan's rollout
// sits a gate node (plan.GateAddr(n)). The gate waits for every machine of
// batch n to finish, successful or not (ordering edges), then counts the
// failures of batches 1..n: more than max_failures fails the gate, which
// skips every later batch (they are "not touched"); otherwise it pauses
// and lets batch n+1 start. Gates chain, so a stop is final.

// addRolloutGates adds the gates of ro to g and returns the batch each
// gate follows, by address.
func addRolloutGates(g *graph.Graph[string], ro *plan.Rollout) map[string]int {
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

func (x *executor) runGate(ctx context.Context, gate string) error {
	ro := x.p.Rollout
	n := x.gates[gate]
	// Every machine of these batches has finished (ordering edges): a
	// machine that did not deploy, because it failed or because something
	// it depends on failed, counts as a failure.
	var failed []string
	x.mu.Lock()
	for _, batch := range ro.Batches[:n] {
		for _, a := range batch {
			if !x.machineDone[a] {
				failed = append(failed, a)
			}
		}
	}
	x.mu.Unlock()
	if len(failed) > ro.MaxFailures {
		var untouched []string
		for _, batch := range ro.Batches[n:] {
			untouched = append(untouched, batch...)
		}
		err := fmt.Errorf("rollout stopped after batch %d of %d: %d machine(s) failed (%s), more than max_failures = %d; not touched: %s",
			n, len(ro.Batches), len(failed), strings.Join(failed, ", "), ro.MaxFailures, strings.Join(untouched, ", "))
		x.e.emit(Event{Kind: EventFailed, Addr: gate, Message: err.Error()})
		return err
	}
	msg := fmt.Sprintf("rollout: batch %d of %d done (%d failed so far, max_failures %d)", n, len(ro.Batches), len(failed), ro.MaxFailures)
	pause, _ := time.ParseDuration(ro.Pause)
	if pause > 0 {
		msg += fmt.Sprintf("; pausing %s before batch %d", pause, n+1)
	}
	x.e.emit(Event{Kind: EventProgress, Addr: gate, Message: msg})
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
