package graph

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// gauge tracks how many calls are inside a region and the most seen at once.
type gauge struct {
	cur, max atomic.Int64
}

// enter counts a call in and returns how many are inside now.
func (g *gauge) enter() int64 {
	n := g.cur.Add(1)
	for {
		m := g.max.Load()
		if n <= m || g.max.CompareAndSwap(m, n) {
			return n
		}
	}
}

func (g *gauge) leave() { g.cur.Add(-1) }

// eventDeadline bounds the tests' waits for something a correct walk makes
// happen at once. It only turns a hang into a failure, so it is generous
// enough for a loaded machine; no test waits for time to pass.
const eventDeadline = time.Minute

// onPass sets g's passHook. The hook runs in Walk's goroutine, which is the
// test's: it may call t.Errorf.
func onPass[K comparable](g *Graph[K], f func(running, done int)) {
	g.passHook = f
}

// waitOrTimeout waits until ch is closed, or fails after eventDeadline.
func waitOrTimeout(ch <-chan struct{}, what string) error {
	select {
	case <-ch:
		return nil
	case <-time.After(eventDeadline):
		return fmt.Errorf("timed out after %v waiting for %s", eventDeadline, what)
	}
}

// TestWalkConcurrencyBound: the bound is reached and never exceeded. The
// first limit calls (started together, as 40 nodes are ready) wait until all
// of them are inside, so the bound is reached however the calls are
// scheduled; every pass of the walk checks, right where it decides what to
// start, that no more than limit calls run.
func TestWalkConcurrencyBound(t *testing.T) {
	for _, limit := range []int{1, 3, 8} {
		t.Run(fmt.Sprint("limit ", limit), func(t *testing.T) {
			g := New[int]()
			for i := range 40 {
				g.Add(i)
			}
			for i := 40; i < 60; i++ { // a second layer, each on two of the first
				g.Connect(i-40, i)
				g.Connect(i-20, i)
			}
			onPass(g, func(running, _ int) {
				if running > limit {
					t.Errorf("the walk started calls until %d ran, limit %d", running, limit)
				}
			})
			var gg gauge
			var calls atomic.Int64
			full := make(chan struct{}) // closed when limit calls are inside at once
			var fullOnce sync.Once
			res := g.Walk(t.Context(), limit, func(ctx context.Context, k int, release func()) error {
				if gg.enter() == int64(limit) {
					fullOnce.Do(func() { close(full) })
				}
				defer gg.leave()
				if calls.Add(1) > int64(limit) {
					return nil
				}
				return waitOrTimeout(full, fmt.Sprintf("%d calls at once (most seen %d)", limit, gg.max.Load()))
			})
			if !res.OK() || len(res.Done) != 60 {
				t.Fatalf("walk not OK: %d done, failed %v", len(res.Done), res.Failed)
			}
			if got := gg.max.Load(); got != int64(limit) {
				t.Errorf("max concurrent calls = %d, want exactly %d", got, limit)
			}
		})
	}
}

func TestWalkUnbounded(t *testing.T) {
	// With limit 0 every ready node runs at once: 20 calls that each wait
	// for all 20 to have started only finish if none is held back.
	const n = 20
	g := New[int]()
	for i := range n {
		g.Add(i)
	}
	var started sync.WaitGroup
	started.Add(n)
	res := g.Walk(t.Context(), 0, func(ctx context.Context, k int, release func()) error {
		started.Done()
		all := make(chan struct{})
		go func() { started.Wait(); close(all) }()
		return waitOrTimeout(all, "every node to start")
	})
	if !res.OK() {
		t.Fatalf("walk failed: %v", res.Failed)
	}
}

// TestWalkGoroutinesBoundedByRunning: Walk runs a goroutine per running
// call, not per ready node. Twice during a walk of 10000 ready nodes (the
// first limit calls, and limit calls in the middle), the calls wait for each
// other; while they wait, the number of goroutines must come down to at most
// limit above what it was before the walk. It is polled rather than sampled
// once, because goroutines of calls that already returned may take a moment
// to exit on a busy machine.
func TestWalkGoroutinesBoundedByRunning(t *testing.T) {
	const n, limit = 10000, 4
	g := New[int]()
	for i := range n {
		g.Add(i)
	}
	base := runtime.NumGoroutine()
	// A little slack for goroutines the runtime or the test framework start.
	want := base + limit + 2
	settled := func() error {
		deadline := time.Now().Add(eventDeadline)
		for {
			got := runtime.NumGoroutine()
			if got <= want {
				return nil
			}
			if time.Now().After(deadline) {
				return fmt.Errorf("walk of %d ready nodes with limit %d runs %d goroutines more than before it", n, limit, got-base)
			}
			time.Sleep(time.Millisecond)
		}
	}
	// Nodes start in index order: each group is limit calls that hold their
	// slots until all of them are in.
	type group struct {
		in   atomic.Int64
		open chan struct{}
	}
	first, middle := &group{open: make(chan struct{})}, &group{open: make(chan struct{})}
	res := g.Walk(t.Context(), limit, func(ctx context.Context, k int, release func()) error {
		var gr *group
		switch {
		case k < limit:
			gr = first
		case k >= n/2 && k < n/2+limit:
			gr = middle
		default:
			return nil
		}
		if gr.in.Add(1) == limit {
			defer close(gr.open)
			return settled()
		}
		return waitOrTimeout(gr.open, "the other calls of the group")
	})
	if len(res.Done) != n {
		t.Fatalf("done %d nodes, want %d; failed: %v", len(res.Done), n, res.Failed)
	}
}

func TestWalkFailureSkipsDependents(t *testing.T) {
	// a -> b -> c, a -> d, d -> c; independent e -> f; g depends on a and e.
	g := build("a>b", "b>c", "a>d", "d>c", "e>f", "a>g", "e>g")
	boom := errors.New("boom")
	res := g.Walk(t.Context(), 2, func(ctx context.Context, k string, release func()) error {
		if k == "a" {
			return boom
		}
		return nil
	})
	want := &WalkResult[string]{
		Done:    []string{"e", "f"},
		Failed:  map[string]error{"a": boom},
		Skipped: map[string]string{"b": "a", "c": "a", "d": "a", "g": "a"},
	}
	checkResult(t, want, res)
}

func TestWalkSkipCauseIsFirstFailure(t *testing.T) {
	// x and y both fail; z depends on both and is skipped once.
	g := build("x>z", "y>z", "z>w")
	res := g.Walk(t.Context(), 1, func(ctx context.Context, k string, release func()) error {
		return fmt.Errorf("%s failed", k)
	})
	if len(res.Failed) != 2 {
		t.Errorf("failed = %v, want x and y", res.Failed)
	}
	// With limit 1, x starts first (added first) and fails first.
	if diff := cmp.Diff(map[string]string{"z": "x", "w": "x"}, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
}

func TestWalkPanicRecovered(t *testing.T) {
	g := build("p>q", "r")
	res := g.Walk(t.Context(), 0, func(ctx context.Context, k string, release func()) error {
		if k == "p" {
			panic("kaboom")
		}
		return nil
	})
	var perr *PanicError
	if !errors.As(res.Failed["p"], &perr) {
		t.Fatalf("failed[p] = %v, want *PanicError", res.Failed["p"])
	}
	if perr.Value != "kaboom" || perr.Error() != "panic: kaboom" || len(perr.Stack) == 0 {
		t.Errorf("PanicError = {Value: %v, Error: %q, %d stack bytes}", perr.Value, perr.Error(), len(perr.Stack))
	}
	if diff := cmp.Diff(map[string]string{"q": "p"}, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"r"}, res.Done); diff != "" {
		t.Errorf("done (-want +got):\n%s", diff)
	}

	// A panic with an error value unwraps to it.
	sentinel := errors.New("sentinel")
	res = build("e").Walk(t.Context(), 0, func(context.Context, string, func()) error { panic(sentinel) })
	if !errors.Is(res.Failed["e"], sentinel) {
		t.Errorf("failed[e] = %v, want it to wrap the panicked error", res.Failed["e"])
	}
}

func TestWalkCancellation(t *testing.T) {
	// r1 and r2 run together; r1 cancels once r2 is running; r2 notices the
	// cancellation and finishes. Their dependents never start.
	g := build("r1>a", "r2>b", "a>c", "d")
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	r2running := make(chan struct{})
	var started []string
	var mu sync.Mutex
	res := g.Walk(ctx, 2, func(ctx context.Context, k string, release func()) error {
		mu.Lock()
		started = append(started, k)
		mu.Unlock()
		switch k {
		case "r1":
			<-r2running
			cancel()
		case "r2":
			close(r2running)
			<-ctx.Done() // a well-behaved node stops when cancelled
		}
		return nil
	})
	slices.Sort(started)
	if diff := cmp.Diff([]string{"r1", "r2"}, started); diff != "" {
		t.Errorf("started (-want +got):\n%s", diff)
	}
	want := &WalkResult[string]{
		Done:      []string{"r1", "r2"},
		Cancelled: []string{"a", "b", "c", "d"},
	}
	checkResult(t, want, res)
}

func TestWalkCancelledBeforeStart(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	cancel()
	res := build("a>b", "c").Walk(ctx, 0, func(context.Context, string, func()) error {
		t.Error("fn called after cancellation")
		return nil
	})
	checkResult(t, &WalkResult[string]{Cancelled: []string{"a", "b", "c"}}, res)
}

func TestWalkReleaseLetsAnotherStart(t *testing.T) {
	// With one slot, a gives its slot back and then waits for b to start:
	// without release this would never finish.
	g := build("a", "b")
	bStarted := make(chan struct{})
	res := g.Walk(t.Context(), 1, func(ctx context.Context, k string, release func()) error {
		switch k {
		case "a":
			release()
			select {
			case <-bStarted:
				return nil
			case <-time.After(eventDeadline):
				return errors.New("b did not start after a released its slot")
			}
		case "b":
			close(bStarted)
		}
		return nil
	})
	checkResult(t, &WalkResult[string]{Done: []string{"b", "a"}}, res)
}

func TestWalkReleaseTwiceIsHarmless(t *testing.T) {
	// With one slot, a releases three times and returns, while b, c and d,
	// once started, hold their slot until a has returned. Had a's releases
	// freed more than the one slot it held, the pass after a's return (which
	// comes after all its releases) would find two of them running.
	g := build("a", "b", "c", "d")
	aReturned := make(chan struct{})
	var once sync.Once
	onPass(g, func(running, done int) {
		if done == 0 {
			return // b, c and d wait for a: nothing but a has returned
		}
		once.Do(func() { close(aReturned) })
		if running > 1 {
			t.Errorf("%d calls run after a returned, with one slot", running)
		}
	})
	var slotHolders gauge
	res := g.Walk(t.Context(), 1, func(ctx context.Context, k string, release func()) error {
		if k == "a" {
			release()
			release()
			release()
			return nil
		}
		slotHolders.enter()
		defer slotHolders.leave()
		return waitOrTimeout(aReturned, "a to return")
	})
	if !res.OK() {
		t.Fatalf("walk failed: %+v", res)
	}
	if got := slotHolders.max.Load(); got != 1 {
		t.Errorf("max slot holders = %d, want 1", got)
	}
}

func TestWalkCycleFailsMembersOnly(t *testing.T) {
	g := build("a>b", "b>a", "b>d", "c", "x>a")
	var ran []string
	res := g.Walk(t.Context(), 1, func(ctx context.Context, k string, release func()) error {
		ran = append(ran, k) // limit 1: no concurrent appends
		return nil
	})
	if diff := cmp.Diff([]string{"c", "x"}, ran); diff != "" {
		t.Errorf("ran (-want +got):\n%s", diff)
	}
	for _, k := range []string{"a", "b"} {
		var cerr *CycleError[string]
		if !errors.As(res.Failed[k], &cerr) {
			t.Fatalf("failed[%s] = %v, want *CycleError", k, res.Failed[k])
		}
		if diff := cmp.Diff([]string{"a", "b"}, cerr.Cycle); diff != "" {
			t.Errorf("cycle (-want +got):\n%s", diff)
		}
	}
	if len(res.Failed) != 2 || res.Skipped["d"] == "" || len(res.Skipped) != 1 {
		t.Errorf("failed %v, skipped %v; want a and b failed, d skipped", res.Failed, res.Skipped)
	}
}

func TestWalkEmpty(t *testing.T) {
	res := New[string]().Walk(t.Context(), 3, func(context.Context, string, func()) error {
		t.Error("fn called on an empty graph")
		return nil
	})
	if !res.OK() || len(res.Done) != 0 || res.Failed == nil || res.Skipped == nil {
		t.Errorf("empty walk = %+v, want OK with empty non-nil maps", res)
	}
}

func TestWalkLimitOneFollowsTopoOrder(t *testing.T) {
	g := build("x", "y", "z", "z>x", "y>w", "v")
	order, err := g.TopoOrder()
	if err != nil {
		t.Fatal(err)
	}
	res := g.Walk(t.Context(), 1, func(context.Context, string, func()) error { return nil })
	if diff := cmp.Diff(order, res.Done); diff != "" {
		t.Errorf("walk order (-topo +walk):\n%s", diff)
	}
}

// TestWalkRandomGraphs checks the walk's invariants on random DAGs with
// random failures: every node is reported once, a node starts only after
// its predecessors finished, and exactly the descendants of failures are
// skipped, each blamed on a failed ancestor.
func TestWalkRandomGraphs(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	for round := range 30 {
		n := 1 + rng.IntN(120)
		g := New[int]()
		for i := range n {
			g.Add(i)
			for range rng.IntN(4) {
				if i > 0 {
					g.Connect(rng.IntN(i), i) // edges go forward: acyclic
				}
			}
		}
		failing := map[int]bool{}
		for range rng.IntN(4) {
			failing[rng.IntN(n)] = true
		}
		limit := rng.IntN(5) // 0 included
		var mu sync.Mutex
		finished := map[int]bool{}
		res := g.Walk(t.Context(), limit, func(ctx context.Context, k int, release func()) error {
			mu.Lock()
			for _, p := range g.Pred(k) {
				if !finished[p] {
					t.Errorf("round %d: node %d started before predecessor %d finished", round, k, p)
				}
			}
			mu.Unlock()
			if k%3 == 0 {
				release()
			}
			mu.Lock()
			finished[k] = true
			mu.Unlock()
			if failing[k] {
				return fmt.Errorf("node %d failed", k)
			}
			return nil
		})

		seen := map[int]int{}
		for _, k := range res.Done {
			seen[k]++
		}
		for k := range res.Failed {
			seen[k]++
			if !failing[k] {
				t.Errorf("round %d: node %d failed but should not", round, k)
			}
		}
		var failedRoots []int
		for k := range failing {
			if _, ok := res.Failed[k]; ok {
				failedRoots = append(failedRoots, k)
			}
		}
		wantSkipped := g.Descendants(failedRoots...)
		for k, cause := range res.Skipped {
			seen[k]++
			if _, ok := res.Failed[cause]; !ok || !g.Ancestors(k)[cause] {
				t.Errorf("round %d: node %d skipped because of %d, which is not a failed ancestor", round, k, cause)
			}
			if !wantSkipped[k] {
				t.Errorf("round %d: node %d skipped but no ancestor failed", round, k)
			}
		}
		for k := range wantSkipped {
			if _, failed := res.Failed[k]; !failed {
				if _, ok := res.Skipped[k]; !ok {
					t.Errorf("round %d: node %d has a failed ancestor but was not skipped", round, k)
				}
			}
		}
		if len(res.Cancelled) != 0 {
			t.Errorf("round %d: cancelled %v without cancellation", round, res.Cancelled)
		}
		for i := range n {
			if seen[i] != 1 {
				t.Errorf("round %d: node %d reported %d times", round, i, seen[i])
			}
		}
	}
}

func checkResult(t *testing.T, want, got *WalkResult[string]) {
	t.Helper()
	if want.Failed == nil {
		want.Failed = map[string]error{}
	}
	if want.Skipped == nil {
		want.Skipped = map[string]string{}
	}
	opts := []cmp.Option{
		cmpopts.EquateEmpty(),
		cmpopts.EquateErrors(),
		// Done is in completion order, which concurrency may reorder.
		cmpopts.SortSlices(func(a, b string) bool { return a < b }),
	}
	if diff := cmp.Diff(want, got, opts...); diff != "" {
		t.Errorf("walk result (-want +got):\n%s", diff)
	}
}
