package graph

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteDOT writes g as a Graphviz digraph called name. Nodes are written in
// insertion order as n0, n1, ... with label(k) as their label (fmt's %v
// when label is nil), then the edges in Edges order, so the output is
// byte-for-byte stable for the same graph.
func (g *Graph[K]) WriteDOT(w io.Writer, name string, label func(K) string) error {
	return g.WriteDOTWith(w, name, DOTOptions[K]{Label: label})
}

// DOTOptions say how WriteDOTWith draws a graph. Every field may be nil or
// false.
type DOTOptions[K comparable] struct {
	// Label is a node's label; fmt's %v when nil.
	Label func(K) string
	// Shape is a node's Graphviz shape ("box", "diamond"); "" keeps the
	// default.
	Shape func(K) string
	// Cluster names the cluster a node is drawn in, "" for none. A
	// cluster is a subgraph labelled with its name, drawn after the nodes
	// outside any cluster, clusters in the order their first node was
	// added.
	Cluster func(K) string
	// Ordering draws the ordering edges (ConnectAfter) too, dashed, after
	// the dependency edges.
	Ordering bool
}

// WriteDOTWith writes g as a Graphviz digraph called name, as WriteDOT
// does, with node shapes, clusters and ordering edges as opts say. Node
// n<i> is always the i-th node added, whatever cluster it is drawn in.
func (g *Graph[K]) WriteDOTWith(w io.Writer, name string, opts DOTOptions[K]) error {
	label := opts.Label
	if label == nil {
		label = func(k K) string { return fmt.Sprint(k) }
	}
	node := func(bw *bufio.Writer, indent string, i int) {
		k := g.nodes[i]
		fmt.Fprintf(bw, "%sn%d [label=%s", indent, i, dotQuote(label(k)))
		if opts.Shape != nil {
			if s := opts.Shape(k); s != "" {
				fmt.Fprintf(bw, ", shape=%s", dotQuote(s))
			}
		}
		bw.WriteString("];\n")
	}
	var clusters []string
	members := map[string][]int{}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph %s {\n", dotQuote(name))
	for i, k := range g.nodes {
		c := ""
		if opts.Cluster != nil {
			c = opts.Cluster(k)
		}
		if c == "" {
			node(bw, "  ", i)
			continue
		}
		if _, seen := members[c]; !seen {
			clusters = append(clusters, c)
		}
		members[c] = append(members[c], i)
	}
	for ci, c := range clusters {
		fmt.Fprintf(bw, "  subgraph \"cluster_%d\" {\n    label=%s;\n", ci, dotQuote(c))
		for _, i := range members[c] {
			node(bw, "    ", i)
		}
		bw.WriteString("  }\n")
	}
	for f, ts := range g.succ {
		for _, t := range ts {
			fmt.Fprintf(bw, "  n%d -> n%d;\n", f, t)
		}
	}
	if opts.Ordering {
		for f, ts := range g.after {
			for _, t := range ts {
				fmt.Fprintf(bw, "  n%d -> n%d [style=dashed];\n", f, t)
			}
		}
	}
	bw.WriteString("}\n")
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write dot graph %q: %w", name, err)
	}
	return nil
}

var dotEscaper = strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`, "\r", ``)

// dotQuote makes s a DOT double-quoted string that renders as s.
func dotQuote(s string) string { return `"` + dotEscaper.Replace(s) + `"` }
