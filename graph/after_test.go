package graph

import (
	"context"
	"errors"
	"slices"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestConnectAfterWaitsButDoesNotSkip: b waits for a through an ordering
// edge; a fails; b still runs, after a, and c (a dependency of a) is skipped.
func TestConnectAfterWaitsButDoesNotSkip(t *testing.T) {
	g := New[string]()
	g.Connect("a", "c")
	g.ConnectAfter("a", "b")
	g.ConnectAfter("c", "d") // c is skipped: d still runs
	var (
		mu    sync.Mutex
		order []string
	)
	res := g.Walk(t.Context(), 4, func(ctx context.Context, k string, release func()) error {
		mu.Lock()
		order = append(order, k)
		mu.Unlock()
		if k == "a" {
			return errors.New("boom")
		}
		return nil
	})
	if diff := cmp.Diff([]string{"a", "b", "d"}, sortedCopy(order)); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	if order[0] != "a" {
		t.Errorf("order = %v, want a first", order)
	}
	if diff := cmp.Diff(map[string]string{"c": "a"}, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if _, ok := res.Failed["a"]; !ok || len(res.Failed) != 1 {
		t.Errorf("failed = %v, want only a", res.Failed)
	}
}

// TestConnectAfterBatches: rolling batches as gates. Batch 2 starts only
// after every node of batch 1 finished, successful or not.
func TestConnectAfterBatches(t *testing.T) {
	g := New[string]()
	batch1 := []string{"m1", "m2", "m3"}
	batch2 := []string{"m4", "m5"}
	for _, m := range batch1 {
		g.ConnectAfter(m, "gate")
	}
	for _, m := range batch2 {
		g.Connect("gate", m)
	}
	var (
		mu       sync.Mutex
		finished = map[string]bool{}
		early    []string
	)
	res := g.Walk(t.Context(), 10, func(ctx context.Context, k string, release func()) error {
		mu.Lock()
		defer mu.Unlock()
		if k == "gate" {
			for _, m := range batch1 {
				if !finished[m] {
					early = append(early, m)
				}
			}
		}
		finished[k] = true
		if k == "m2" {
			return errors.New("unhealthy")
		}
		return nil
	})
	if len(early) > 0 {
		t.Errorf("gate ran before %v finished", early)
	}
	if len(res.Done) != 5 || len(res.Skipped) != 0 {
		t.Errorf("done %v skipped %v, want 5 done (m2 failed) and none skipped", res.Done, res.Skipped)
	}
}

// TestConnectAfterGateFailureSkips: a gate that fails skips what depends
// on it through dependency edges.
func TestConnectAfterGateFailureSkips(t *testing.T) {
	g := New[string]()
	g.ConnectAfter("m1", "gate")
	g.Connect("gate", "m2")
	g.ConnectAfter("m2", "gate2")
	g.Connect("gate", "gate2")
	g.Connect("gate2", "m3")
	res := g.Walk(t.Context(), 1, func(ctx context.Context, k string, release func()) error {
		if k == "gate" {
			return errors.New("stop")
		}
		return nil
	})
	want := map[string]string{"m2": "gate", "gate2": "gate", "m3": "gate"}
	if diff := cmp.Diff(want, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if !slices.Equal(res.Done, []string{"m1"}) {
		t.Errorf("done = %v", res.Done)
	}
}

// TestConnectAfterCycle: a cycle through an ordering edge is still a cycle.
func TestConnectAfterCycle(t *testing.T) {
	g := New[string]()
	g.Connect("a", "b")
	g.ConnectAfter("b", "a")
	g.Add("free")
	res := g.Walk(t.Context(), 2, func(ctx context.Context, k string, release func()) error { return nil })
	if !slices.Equal(res.Done, []string{"free"}) {
		t.Errorf("done = %v, want only free", res.Done)
	}
	var ce *CycleError[string]
	if !errors.As(res.Failed["a"], &ce) || !errors.As(res.Failed["b"], &ce) {
		t.Errorf("failed = %v, want a cycle error on a and b", res.Failed)
	}
}

func sortedCopy(s []string) []string {
	c := slices.Clone(s)
	slices.Sort(c)
	return c
}
