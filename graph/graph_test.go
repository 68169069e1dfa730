package graph

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestGraphStructure(t *testing.T) {
	g := New[string]()
	g.Add("a")
	g.Connect("b", "c")
	g.Connect("a", "c")
	g.Connect("a", "c") // duplicate edge
	g.Add("a")          // duplicate node keeps its place
	g.Connect("c", "d")

	if got, want := g.Len(), 4; got != want {
		t.Errorf("Len() = %d, want %d", got, want)
	}
	if diff := cmp.Diff([]string{"a", "b", "c", "d"}, g.Nodes()); diff != "" {
		t.Errorf("Nodes() (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"b", "a"}, g.Pred("c")); diff != "" {
		t.Errorf("Pred(c) (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"d"}, g.Succ("c")); diff != "" {
		t.Errorf("Succ(c) (-want +got):\n%s", diff)
	}
	if got := g.Succ("d"); got != nil {
		t.Errorf("Succ(d) = %v, want nil", got)
	}
	if got := g.Pred("missing"); got != nil {
		t.Errorf("Pred(missing) = %v, want nil", got)
	}
	wantEdges := [][2]string{{"a", "c"}, {"b", "c"}, {"c", "d"}}
	if diff := cmp.Diff(wantEdges, g.Edges()); diff != "" {
		t.Errorf("Edges() (-want +got):\n%s", diff)
	}
	if !g.Has("d") || g.Has("e") {
		t.Errorf("Has(d)=%v Has(e)=%v, want true false", g.Has("d"), g.Has("e"))
	}
	// Nodes returns a copy.
	g.Nodes()[0] = "zzz"
	if g.Nodes()[0] != "a" {
		t.Errorf("mutating Nodes() changed the graph")
	}
}

func TestReach(t *testing.T) {
	// a -> b -> d, a -> c, e -> d, f alone
	g := New[string]()
	g.Connect("a", "b")
	g.Connect("b", "d")
	g.Connect("a", "c")
	g.Connect("e", "d")
	g.Add("f")

	tests := []struct {
		name  string
		fn    func(...string) map[string]bool
		roots []string
		want  map[string]bool
	}{
		{"ancestors of d", g.Ancestors, []string{"d"}, set("a", "b", "d", "e")},
		{"ancestors of roots", g.Ancestors, []string{"c", "f"}, set("a", "c", "f")},
		{"descendants of a", g.Descendants, []string{"a"}, set("a", "b", "c", "d")},
		{"descendants of leaf", g.Descendants, []string{"d"}, set("d")},
		{"unknown root ignored", g.Descendants, []string{"zzz", "e"}, set("d", "e")},
		{"no roots", g.Ancestors, nil, set()},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, tt.fn(tt.roots...)); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}
}

func set(ks ...string) map[string]bool {
	m := make(map[string]bool, len(ks))
	for _, k := range ks {
		m[k] = true
	}
	return m
}

// build makes a string graph from "a>b" edge specs and bare "a" nodes.
func build(specs ...string) *Graph[string] {
	g := New[string]()
	for _, s := range specs {
		for i := 0; i < len(s); i++ {
			if s[i] == '>' {
				g.Connect(s[:i], s[i+1:])
				goto next
			}
		}
		g.Add(s)
	next:
	}
	return g
}
