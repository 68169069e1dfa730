// Package graph is ferry's generic directed acyclic graph: nodes of any
// comparable type kept in insertion order, cycle detection that names the
// cycle, a stable topological order, reachability, a bounded concurrent walk
// that skips the dependents of a failed node, and DOT output.
//
// An edge from -> to means "from must finish before to starts". Every
// listing (Nodes, Succ, Pred, Edges, TopoOrder, WriteDOT) is deterministic:
// it follows the order in which nodes and edges were added, never map order.
// An ordering edge (ConnectAfter) makes the walk wait without passing a
// failure on: rolling batches wait for the previous batch, then decide.
//
// The package imports nothing else from this repository. It knows nothing
// about resources, plans or providers; callers give nodes their meaning.
//
// A Graph is not safe for concurrent mutation. Once built, any number of
// goroutines may read it (including a running Walk) as long as nobody
// mutates it.
package graph
