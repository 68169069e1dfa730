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
	if label == nil {
		label = func(k K) string { return fmt.Sprint(k) }
	}
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph %s {\n", dotQuote(name))
	for i, k := range g.nodes {
		fmt.Fprintf(bw, "  n%d [label=%s];\n", i, dotQuote(label(k)))
	}
	for f, ts := range g.succ {
		for _, t := range ts {
			fmt.Fprintf(bw, "  n%d -> n%d;\n", f, t)
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
