package graph

import (
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCycle(t *testing.T) {
	tests := []struct {
		name    string
		g       *Graph[string]
		want    []string
		wantErr string
	}{
		{"acyclic", build("a>b", "b>c", "a>c"), nil, ""},
		{"empty", build(), nil, ""},
		{"self loop", build("x", "a>a"), []string{"a"}, "dependency cycle: a -> a"},
		{"two-cycle", build("a>b", "b>a"), []string{"a", "b"}, "dependency cycle: a -> b -> a"},
		{
			"long cycle behind a prefix",
			build("start>c", "a", "c>d", "d>e", "e>a", "a>c", "e>end"),
			[]string{"c", "d", "e", "a"},
			"dependency cycle: c -> d -> e -> a -> c",
		},
		{
			"rotated to the first-added member",
			build("b", "a", "a>c", "c>b", "b>a"),
			[]string{"b", "a", "c"},
			"dependency cycle: b -> a -> c -> b",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.g.Cycle()); diff != "" {
				t.Errorf("Cycle() (-want +got):\n%s", diff)
			}
			order, err := tt.g.TopoOrder()
			if tt.wantErr == "" {
				if err != nil {
					t.Fatalf("TopoOrder() error: %v", err)
				}
				if len(order) != tt.g.Len() {
					t.Errorf("TopoOrder() has %d nodes, want %d", len(order), tt.g.Len())
				}
				return
			}
			var cerr *CycleError[string]
			if !errors.As(err, &cerr) {
				t.Fatalf("TopoOrder() error = %v, want *CycleError", err)
			}
			if diff := cmp.Diff(tt.want, cerr.Cycle); diff != "" {
				t.Errorf("CycleError.Cycle (-want +got):\n%s", diff)
			}
			if got := err.Error(); got != tt.wantErr {
				t.Errorf("Error() = %q, want %q", got, tt.wantErr)
			}
			if order != nil {
				t.Errorf("TopoOrder() order = %v on a cycle, want nil", order)
			}
		})
	}
}

func TestCycleIsRealCycle(t *testing.T) {
	// Whatever Cycle returns must be a closed walk along real edges.
	g := build("a>b", "b>c", "c>d", "d>b", "c>e", "e>a", "f>a")
	c := g.Cycle()
	if len(c) == 0 {
		t.Fatal("Cycle() = nil on a cyclic graph")
	}
	edges := map[[2]string]bool{}
	for _, e := range g.Edges() {
		edges[e] = true
	}
	for i, k := range c {
		next := c[(i+1)%len(c)]
		if !edges[[2]string{k, next}] {
			t.Errorf("Cycle() = %v: no edge %s -> %s", c, k, next)
		}
	}
}

func TestTopoOrderStable(t *testing.T) {
	tests := []struct {
		name string
		g    *Graph[string]
		want []string
	}{
		{"no edges keeps insertion order", build("c", "a", "b"), []string{"c", "a", "b"}},
		{"valid insertion order unchanged", build("a>b", "b>c", "a>c", "d"), []string{"a", "b", "c", "d"}},
		{"reverse chain", build("c", "b", "a", "a>b", "b>c"), []string{"a", "b", "c"}},
		{
			// x waits for z; y is free, so y comes before x even though
			// x was added first; z comes as early as its place allows.
			"earliest ready first",
			build("x", "y", "z", "z>x"),
			[]string{"y", "z", "x"},
		},
		{
			"diamond",
			build("top>left", "top>right", "left>bottom", "right>bottom"),
			[]string{"top", "left", "right", "bottom"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := tt.g.TopoOrder()
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("TopoOrder() (-want +got):\n%s", diff)
			}
			again, _ := tt.g.TopoOrder()
			if diff := cmp.Diff(got, again); diff != "" {
				t.Errorf("TopoOrder() not deterministic (-first +second):\n%s", diff)
			}
		})
	}
}

func TestIntHeapPopsInOrder(t *testing.T) {
	in := []int{5, 3, 9, 1, 1, 8, 0, 7, 2, 6, 4}
	var h intHeap
	for _, x := range in {
		h.push(x)
	}
	var got []int
	for len(h) > 0 {
		got = append(got, h.pop())
	}
	want := []int{0, 1, 1, 2, 3, 4, 5, 6, 7, 8, 9}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("heap order (-want +got):\n%s", diff)
	}
}
