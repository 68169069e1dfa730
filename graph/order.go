package graph

import (
	"fmt"
	"strings"
)

// CycleError is returned by TopoOrder when the graph has a cycle. Cycle
// lists its members in edge order, starting with the member added to the
// graph first: Cycle[0] -> Cycle[1] -> ... -> Cycle[0]. A self loop is a
// cycle of one member.
type CycleError[K comparable] struct {
	Cycle []K
}

// Error renders the cycle as "dependency cycle: a -> b -> a". Callers that
// know where each member was declared format Cycle themselves.
func (e *CycleError[K]) Error() string {
	var b strings.Builder
	b.WriteString("dependency cycle: ")
	for _, k := range e.Cycle {
		fmt.Fprintf(&b, "%v -> ", k)
	}
	if len(e.Cycle) > 0 {
		fmt.Fprintf(&b, "%v", e.Cycle[0])
	}
	return b.String()
}

// Cycle returns one cycle of g, or nil when g is acyclic. The members are
// in edge order (each has an edge to the next, the last to the first),
// starting with the member added to the graph first. Which cycle is
// reported when there are several is deterministic: the first one a
// depth-first search in insertion order meets.
func (g *Graph[K]) Cycle() []K {
	const (
		white = iota // not visited
		grey         // on the current path
		black        // finished, no cycle through it
	)
	color := make([]uint8, len(g.nodes))
	type frame struct{ node, next int }
	var path []frame
	for root := range g.nodes {
		if color[root] != white {
			continue
		}
		color[root] = grey
		path = append(path[:0], frame{node: root})
		for len(path) > 0 {
			top := &path[len(path)-1]
			if top.next == len(g.succ[top.node]) {
				color[top.node] = black
				path = path[:len(path)-1]
				continue
			}
			s := g.succ[top.node][top.next]
			top.next++
			switch color[s] {
			case white:
				color[s] = grey
				path = append(path, frame{node: s})
			case grey:
				// s is on the path: the cycle is path[from s to the top].
				start := len(path) - 1
				for path[start].node != s {
					start--
				}
				members := make([]int, 0, len(path)-start)
				for _, f := range path[start:] {
					members = append(members, f.node)
				}
				return g.keys(rotateToMin(members))
			}
		}
	}
	return nil
}

// rotateToMin rotates a cycle so that its smallest index comes first.
func rotateToMin(c []int) []int {
	m := 0
	for i, v := range c {
		if v < c[m] {
			m = i
		}
	}
	return append(append(make([]int, 0, len(c)), c[m:]...), c[:m]...)
}

// TopoOrder returns every node so that each comes after all its
// predecessors. Among the nodes that are ready at the same time, the one
// added first comes first, so a graph whose insertion order is already a
// valid order comes back unchanged. A cyclic graph yields a *CycleError.
func (g *Graph[K]) TopoOrder() ([]K, error) {
	indeg := make([]int, len(g.nodes))
	for i, ps := range g.pred {
		indeg[i] = len(ps)
	}
	ready := make(intHeap, 0, len(g.nodes))
	for i, d := range indeg {
		if d == 0 {
			ready = append(ready, i) // already in order: a valid heap
		}
	}
	out := make([]K, 0, len(g.nodes))
	for len(ready) > 0 {
		i := ready.pop()
		out = append(out, g.nodes[i])
		for _, s := range g.succ[i] {
			indeg[s]--
			if indeg[s] == 0 {
				ready.push(s)
			}
		}
	}
	if len(out) != len(g.nodes) {
		return nil, &CycleError[K]{Cycle: g.Cycle()}
	}
	return out, nil
}

// intHeap is a min-heap of node indexes: ready nodes in insertion order.
// It is written out (rather than using container/heap) to avoid boxing
// every index in an interface.
type intHeap []int

func (h *intHeap) push(x int) {
	*h = append(*h, x)
	a := *h
	for i := len(a) - 1; i > 0; {
		p := (i - 1) / 2
		if a[p] <= a[i] {
			break
		}
		a[p], a[i] = a[i], a[p]
		i = p
	}
}

func (h *intHeap) pop() int {
	a := *h
	top := a[0]
	last := len(a) - 1
	a[0] = a[last]
	a = a[:last]
	for i := 0; ; {
		m, l, r := i, 2*i+1, 2*i+2
		if l < len(a) && a[l] < a[m] {
			m = l
		}
		if r < len(a) && a[r] < a[m] {
			m = r
		}
		if m == i {
			break
		}
		a[i], a[m] = a[m], a[i]
		i = m
	}
	*h = a
	return top
}

// Ancestors returns the roots and every node they transitively wait for.
// Roots that are not nodes of g are ignored.
func (g *Graph[K]) Ancestors(roots ...K) map[K]bool {
	return g.reach(roots, g.pred)
}

// Descendants returns the roots and every node that transitively waits for
// them. Roots that are not nodes of g are ignored.
func (g *Graph[K]) Descendants(roots ...K) map[K]bool {
	return g.reach(roots, g.succ)
}

func (g *Graph[K]) reach(roots []K, next [][]int) map[K]bool {
	seen := make([]bool, len(g.nodes))
	var stack []int
	for _, r := range roots {
		if i, ok := g.index[r]; ok && !seen[i] {
			seen[i] = true
			stack = append(stack, i)
		}
	}
	out := make(map[K]bool, len(stack))
	for len(stack) > 0 {
		i := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		out[g.nodes[i]] = true
		for _, n := range next[i] {
			if !seen[n] {
				seen[n] = true
				stack = append(stack, n)
			}
		}
	}
	return out
}
