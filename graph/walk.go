package graph

import (
	"context"
	"fmt"
	"runtime/debug"
	"sync"
	"sync/atomic"
)

// WalkFunc does the work of one node. It holds one of the walk's slots from
// the moment it is called; release gives the slot back early (for example
// while the node only waits for a durable write), so that another node can
// start. Calling release more than once, or after returning, is harmless;
// the slot is released when the function returns in any case.
type WalkFunc[K comparable] func(ctx context.Context, k K, release func()) error

// WalkResult is the outcome of a Walk. Every node of the graph appears in
// exactly one of its fields.
type WalkResult[K comparable] struct {
	// Done lists the nodes whose function succeeded, in completion order.
	Done []K
	// Failed maps each node whose function failed (or panicked, or that
	// sits on a dependency cycle) to its error.
	Failed map[K]error
	// Skipped maps each node that did not run because an ancestor failed to
	// the failed ancestor that caused it.
	Skipped map[K]K
	// Cancelled lists, in insertion order, the nodes that did not start
	// because the walk's context was cancelled.
	Cancelled []K
}

// OK reports whether every node ran and succeeded.
func (r *WalkResult[K]) OK() bool {
	return len(r.Failed) == 0 && len(r.Skipped) == 0 && len(r.Cancelled) == 0
}

// PanicError is the error recorded for a node whose function panicked.
type PanicError struct {
	Value any    // what was passed to panic
	Stack []byte // the goroutine's stack at the panic, for logs
}

func (e *PanicError) Error() string { return fmt.Sprintf("panic: %v", e.Value) }

// Unwrap returns the panic value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Walk calls fn for every node once all its predecessors have succeeded,
// running independent nodes concurrently. At most limit calls hold a slot at
// the same time (limit <= 0: no bound); a call gives its slot back by
// returning or by calling release. Walk starts one goroutine per running
// call and never more, so a graph with many ready nodes costs only memory
// for a queue. Among ready nodes, the one added to the graph first starts
// first: with limit 1 the nodes start in TopoOrder.
//
// When fn fails (or panics; the panic is recovered into a *PanicError), the
// node's transitive successors are skipped and everything else goes on.
// Nodes on a dependency cycle fail with a *CycleError without running. When
// ctx is cancelled, no further node starts, running calls are waited for
// (they see ctx and should stop early), and the nodes that never started
// are reported as cancelled. Walk returns when no call is running.
func (g *Graph[K]) Walk(ctx context.Context, limit int, fn WalkFunc[K]) *WalkResult[K] {
	w := &walker[K]{
		g:       g,
		ctx:     ctx,
		fn:      fn,
		limit:   limit,
		wake:    make(chan struct{}, 1),
		status:  make([]nodeStatus, len(g.nodes)),
		pending: make([]int, len(g.nodes)),
		res: &WalkResult[K]{
			Done:    make([]K, 0, len(g.nodes)),
			Failed:  make(map[K]error),
			Skipped: make(map[K]K),
		},
	}
	for i, ps := range g.pred {
		w.pending[i] = len(ps) + len(g.afterPred[i])
		if w.pending[i] == 0 {
			w.ready = append(w.ready, i) // in index order: a valid heap
		}
	}
	w.failCycles()
	w.loop()
	for i, s := range w.status {
		if s == statusPending {
			w.res.Cancelled = append(w.res.Cancelled, g.nodes[i])
		}
	}
	return w.res
}

type nodeStatus uint8

const (
	statusPending nodeStatus = iota // waiting for predecessors, or ready
	statusRunning
	statusDone
	statusFailed
	statusSkipped
)

type walker[K comparable] struct {
	g     *Graph[K]
	ctx   context.Context
	fn    WalkFunc[K]
	limit int
	wake  chan struct{} // capacity 1: "something changed, look again"

	mu      sync.Mutex // guards everything below
	status  []nodeStatus
	pending []int   // predecessors not yet done, per node
	ready   intHeap // nodes whose predecessors are all done
	slots   int     // calls holding a slot
	running int     // calls not yet returned
	res     *WalkResult[K]
}

// loop starts ready nodes while slots are free, and sleeps until a call
// returns or releases its slot. It runs in Walk's goroutine.
func (w *walker[K]) loop() {
	for {
		w.mu.Lock()
		if w.ctx.Err() == nil {
			for len(w.ready) > 0 && (w.limit <= 0 || w.slots < w.limit) {
				i := w.ready.pop()
				w.status[i] = statusRunning
				w.slots++
				w.running++
				go w.run(i)
			}
		}
		if w.g.passHook != nil {
			w.g.passHook(w.running, len(w.res.Done))
		}
		idle := w.running == 0
		w.mu.Unlock()
		if idle {
			return
		}
		<-w.wake
	}
}

func (w *walker[K]) signal() {
	select {
	case w.wake <- struct{}{}:
	default: // a wake-up is already pending
	}
}

func (w *walker[K]) run(i int) {
	var released atomic.Bool
	release := func() {
		if released.CompareAndSwap(false, true) {
			w.mu.Lock()
			w.slots--
			w.mu.Unlock()
			w.signal()
		}
	}
	err := w.call(i, release)

	w.mu.Lock()
	if released.CompareAndSwap(false, true) {
		w.slots--
	}
	w.running--
	if err != nil {
		w.fail(i, err)
	} else {
		w.status[i] = statusDone
		w.res.Done = append(w.res.Done, w.g.nodes[i])
		for _, s := range w.g.succ[i] {
			w.finishedPred(s)
		}
		for _, s := range w.g.after[i] {
			w.finishedPred(s)
		}
	}
	w.mu.Unlock()
	w.signal()
}

// finishedPred counts down the predecessors node s waits for and makes it
// ready when none is left. The caller holds w.mu.
func (w *walker[K]) finishedPred(s int) {
	w.pending[s]--
	if w.pending[s] == 0 && w.status[s] == statusPending {
		w.ready.push(s)
	}
}

func (w *walker[K]) call(i int, release func()) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = &PanicError{Value: r, Stack: debug.Stack()}
		}
	}()
	return w.fn(w.ctx, w.g.nodes[i], release)
}

// fail records err for node i and skips its transitive successors that are
// not skipped yet. Nodes that only wait for i or a skipped node through an
// ordering edge are not skipped: for them, i (or the skipped node) has
// finished. The caller holds w.mu (or is the only goroutine).
func (w *walker[K]) fail(i int, err error) {
	k := w.g.nodes[i]
	w.status[i] = statusFailed
	w.res.Failed[k] = err
	stack := []int{i}
	var finished []int // failed or skipped nodes with ordering successors
	for len(stack) > 0 {
		n := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if len(w.g.after[n]) > 0 {
			finished = append(finished, n)
		}
		for _, s := range w.g.succ[n] {
			if w.status[s] != statusPending {
				continue // already skipped, or failed on a cycle
			}
			w.status[s] = statusSkipped
			w.res.Skipped[w.g.nodes[s]] = k
			stack = append(stack, s)
		}
	}
	for _, n := range finished {
		for _, s := range w.g.after[n] {
			w.finishedPred(s)
		}
	}
}

// failCycles marks the members of every dependency cycle as failed with a
// *CycleError, and their descendants as skipped, before anything runs.
func (w *walker[K]) failCycles() {
	g := w.g
	// Kahn's algorithm on counts: whatever it cannot reach sits on or
	// behind a cycle, and every such node has a predecessor that does too.
	indeg := append([]int(nil), w.pending...)
	queue := append([]int(nil), w.ready...)
	reached := make([]bool, len(g.nodes))
	for len(queue) > 0 {
		n := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		reached[n] = true
		for _, s := range g.succ[n] {
			indeg[s]--
			if indeg[s] == 0 {
				queue = append(queue, s)
			}
		}
		for _, s := range g.after[n] {
			indeg[s]--
			if indeg[s] == 0 {
				queue = append(queue, s)
			}
		}
	}
	for i := range g.nodes {
		if reached[i] || w.status[i] != statusPending {
			continue
		}
		// An unmarked stuck node has only unmarked stuck predecessors
		// (marking a node marks its descendants), so walking back along
		// them must come round to a node already on the path.
		// Ordering edges do not pass failure on, so only pending
		// predecessors are followed; a node none of whose stuck
		// predecessors is pending waits only for finished ones and is left
		// to the counts.
		onPath := map[int]int{}
		var path []int
		n := i
		for n >= 0 {
			if p, ok := onPath[n]; ok {
				path = path[p:]
				break
			}
			onPath[n] = len(path)
			path = append(path, n)
			n = w.stuckPred(n, reached)
		}
		if n < 0 {
			continue
		}
		// path follows edges backwards; reverse it into edge order.
		for a, b := 0, len(path)-1; a < b; a, b = a+1, b-1 {
			path[a], path[b] = path[b], path[a]
		}
		cerr := &CycleError[K]{Cycle: g.keys(rotateToMin(path))}
		for _, m := range path {
			w.status[m] = statusFailed
			w.res.Failed[g.nodes[m]] = cerr
		}
		for _, m := range path {
			w.fail(m, cerr)
		}
	}
}

// stuckPred returns a predecessor of n, through either kind of edge, that
// Kahn's pass did not reach and that is still pending, or -1.
func (w *walker[K]) stuckPred(n int, reached []bool) int {
	for _, ps := range [][]int{w.g.pred[n], w.g.afterPred[n]} {
		for _, p := range ps {
			if !reached[p] && w.status[p] == statusPending {
				return p
			}
		}
	}
	return -1
}
