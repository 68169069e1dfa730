package graph

import (
	"context"
	"testing"
)

// layered builds layers*width nodes; each node after the first layer waits
// for two nodes of the layer before it.
func layered(layers, width int) *Graph[int] {
	g := New[int]()
	for l := range layers {
		for j := range width {
			n := l*width + j
			g.Add(n)
			if l > 0 {
				prev := (l - 1) * width
				g.Connect(prev+j, n)
				g.Connect(prev+(j+1)%width, n)
			}
		}
	}
	return g
}

func BenchmarkWalkLayered5000(b *testing.B) {
	g := layered(10, 500)
	noop := func(context.Context, int, func()) error { return nil }
	b.ReportAllocs()
	for b.Loop() {
		if res := g.Walk(context.Background(), 10, noop); len(res.Done) != g.Len() {
			b.Fatalf("done %d of %d", len(res.Done), g.Len())
		}
	}
}

func BenchmarkTopoOrder10000(b *testing.B) {
	g := layered(10, 1000)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := g.TopoOrder(); err != nil {
			b.Fatal(err)
		}
	}
}
