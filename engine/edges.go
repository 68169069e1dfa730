package engine

import (
	"sort"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/graph"
)

// All ordering rules live here.
//
//  1. A resource that is created, updated or replaced starts after every
//     dependency that is itself created, updated or replaced.
//  2. A resource that is deleted (or replaced, which deletes first) goes
//     before every resource it depended on, per state (per configuration
//     when a configured resource is destroyed), that is deleted:
//     dependents are torn down before what they rely on.
//  3. A deleted resource goes before a replaced resource it depended on, so
//     the old dependency is not pulled away under it.
//  4. A machine that is deployed starts after every dependency (resource
//     or machine) that is created, updated, replaced or deployed; so does
//     a resource that depends on a deployed machine (depends_on). A
//     machine's dependencies include the resources its target refers to
//     (ssh(host = web.ip)): the host exists before ferry connects.
//  5. A machine that is forgotten (destroy, or no longer configured) goes
//     before every resource it depended on that is deleted or replaced:
//     the resources its target or modules refer to (the instance it runs
//     on) outlive the machine, as configured, or as state recorded them
//     for a machine no longer configured.
//  6. A deferred machine takes no part: apply leaves it alone (the plan
//     refuses a resource that would have to wait for it).
//
// Only direct edges are stored; transitive order follows from them.
func executionEdges(p *plan.Plan, st *state.State) [][2]string {
	action := make(map[string]plan.Action, len(p.Resources))
	for _, r := range p.Resources {
		action[r.Addr] = r.Action
	}
	for _, m := range p.Machines {
		action[m.Addr] = m.Action
	}
	seen := map[[2]string]bool{}
	var edges [][2]string
	add := func(from, to string) {
		e := [2]string{from, to}
		if from != to && !seen[e] {
			seen[e] = true
			edges = append(edges, e)
		}
	}
	for _, r := range p.Resources {
		switch r.Action {
		case plan.Create, plan.Update, plan.Replace:
			for _, d := range r.Deps {
				switch action[d] {
				case plan.Create, plan.Update, plan.Replace, plan.Deploy:
					add(d, r.Addr)
				}
			}
		}
		if r.Action == plan.Delete || r.Action == plan.Replace {
			rec := st.Resources[r.Addr]
			if rec == nil {
				continue
			}
			deps := rec.Deps
			if r.Action == plan.Delete {
				deps = r.Deps // as in state, or as configured when destroying
			}
			for _, d := range deps {
				switch {
				case action[d] == plan.Delete:
					add(r.Addr, d)
				case action[d] == plan.Replace && r.Action == plan.Delete:
					add(r.Addr, d)
				}
			}
		}
	}
	for _, m := range p.Machines {
		switch m.Action {
		case plan.Deploy:
			for _, d := range m.Deps {
				switch action[d] {
				case plan.Create, plan.Update, plan.Replace, plan.Deploy:
					add(d, m.Addr)
				}
			}
		case plan.Forget:
			for _, d := range m.Deps {
				switch action[d] {
				case plan.Delete, plan.Replace:
					add(m.Addr, d)
				}
			}
		}
	}
	sort.Slice(edges, func(i, j int) bool {
		if edges[i][0] != edges[j][0] {
			return edges[i][0] < edges[j][0]
		}
		return edges[i][1] < edges[j][1]
	})
	if edges == nil {
		edges = [][2]string{}
	}
	return edges
}

// stateDependents returns roots and everything that depends on them,
// through the configuration graph or the dependencies recorded in state.
func stateDependents(st *state.State, g *graph.Graph[string], roots []string) map[string]bool {
	rev := map[string][]string{}
	for addr, rec := range st.Resources {
		for _, d := range rec.Deps {
			rev[d] = append(rev[d], addr)
		}
	}
	for addr, rec := range st.Machines {
		for _, d := range rec.Deps {
			rev[d] = append(rev[d], addr)
		}
	}
	out := map[string]bool{}
	queue := append([]string(nil), roots...)
	for len(queue) > 0 {
		a := queue[0]
		queue = queue[1:]
		if out[a] {
			continue
		}
		out[a] = true
		queue = append(queue, rev[a]...)
		if g.Has(a) {
			queue = append(queue, g.Succ(a)...)
		}
	}
	return out
}
