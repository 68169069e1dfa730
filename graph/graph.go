package graph

// Graph is a directed graph whose nodes are values of type K. The zero value
// is not usable; create graphs with New.
type Graph[K comparable] struct {
	index map[K]int // node -> position in nodes
	nodes []K       // in insertion order
	succ  [][]int   // per node, successors in edge insertion order
	pred  [][]int   // per node, predecessors in edge insertion order
	edges map[[2]int]struct{}
	// Ordering edges (ConnectAfter): the successor waits for the
	// predecessor to finish in any way, and is not skipped when it fails.
	after     [][]int
	afterPred [][]int
	afterSet  map[[2]int]struct{}
	// passHook, when a test in this package sets it, is called by every
	// pass of Walk's loop after it started what it could, in Walk's
	// goroutine with the walk's lock held: running is the number of calls
	// not yet returned, done the number that succeeded. A pass follows
	// every return and every release, so a test learns what each event let
	// the walk start without waiting for time to pass. It must not block or
	// call into the walk; nil otherwise, changing nothing.
	passHook func(running, done int)
}

// New returns an empty graph.
func New[K comparable]() *Graph[K] {
	return &Graph[K]{
		index:    make(map[K]int),
		edges:    make(map[[2]int]struct{}),
		afterSet: make(map[[2]int]struct{}),
	}
}

// Add adds k as a node. Adding a node twice is a no-op, and does not change
// its position in the insertion order.
func (g *Graph[K]) Add(k K) { g.add(k) }

func (g *Graph[K]) add(k K) int {
	if i, ok := g.index[k]; ok {
		return i
	}
	i := len(g.nodes)
	g.index[k] = i
	g.nodes = append(g.nodes, k)
	g.succ = append(g.succ, nil)
	g.pred = append(g.pred, nil)
	g.after = append(g.after, nil)
	g.afterPred = append(g.afterPred, nil)
	return i
}

// Connect adds the edge from -> to: from must finish before to starts.
// Missing nodes are added (from first); an edge added twice is kept once.
func (g *Graph[K]) Connect(from, to K) {
	f, t := g.add(from), g.add(to)
	e := [2]int{f, t}
	if _, dup := g.edges[e]; dup {
		return
	}
	g.edges[e] = struct{}{}
	g.succ[f] = append(g.succ[f], t)
	g.pred[t] = append(g.pred[t], f)
}

// ConnectAfter adds an ordering edge from -> to: to starts only once from
// has finished, whether it succeeded, failed or was skipped, and a failure
// of from does not skip to. Rolling batches use it: the next batch waits for
// the previous one, then decides for itself whether to go on. Ordering
// edges count in Walk and in cycle detection only; Succ, Pred, Edges,
// TopoOrder and DOT show the dependency edges of Connect.
func (g *Graph[K]) ConnectAfter(from, to K) {
	f, t := g.add(from), g.add(to)
	e := [2]int{f, t}
	if _, dup := g.afterSet[e]; dup {
		return
	}
	g.afterSet[e] = struct{}{}
	g.after[f] = append(g.after[f], t)
	g.afterPred[t] = append(g.afterPred[t], f)
}

// Has reports whether k is a node of g.
func (g *Graph[K]) Has(k K) bool {
	_, ok := g.index[k]
	return ok
}

// Len is the number of nodes.
func (g *Graph[K]) Len() int { return len(g.nodes) }

// Nodes lists every node in insertion order. The slice is a copy.
func (g *Graph[K]) Nodes() []K {
	return append([]K(nil), g.nodes...)
}

// Succ lists the direct successors of k (the nodes that wait for it), in
// the order their edges were added; nil when k has none or is unknown.
func (g *Graph[K]) Succ(k K) []K {
	i, ok := g.index[k]
	if !ok {
		return nil
	}
	return g.keys(g.succ[i])
}

// Pred lists the direct predecessors of k (the nodes it waits for), in the
// order their edges were added; nil when k has none or is unknown.
func (g *Graph[K]) Pred(k K) []K {
	i, ok := g.index[k]
	if !ok {
		return nil
	}
	return g.keys(g.pred[i])
}

// Edges lists every edge as {from, to}, grouped by source node in
// insertion order, then by the order the edges were added.
func (g *Graph[K]) Edges() [][2]K {
	out := make([][2]K, 0, len(g.edges))
	for f, ts := range g.succ {
		for _, t := range ts {
			out = append(out, [2]K{g.nodes[f], g.nodes[t]})
		}
	}
	return out
}

func (g *Graph[K]) keys(is []int) []K {
	if len(is) == 0 {
		return nil
	}
	out := make([]K, len(is))
	for j, i := range is {
		out[j] = g.nodes[i]
	}
	return out
}
