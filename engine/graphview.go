package engine

import (
	"context"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/graph"
)

// ConfigGraph is the dependency graph of a configuration: one node per
// resource and per machine, an edge from each dependency to what depends
// on it. The dependencies of an address are the references in its
// arguments (a resource's args; a machine's target arguments, its jump
// host's included, and module args) and its depends_on; a resource may
// depend on a machine and a machine on a resource or another machine.
type ConfigGraph struct {
	// Graph holds the resources in declaration order, then the machines
	// in declaration order, then the edges.
	Graph *graph.Graph[string]
	// Deps are the direct dependencies of every declared address, sorted
	// and without duplicates (nil for none).
	Deps map[string][]string
	// Pos is where each address is declared.
	Pos map[string]spec.Pos
}

// BuildConfigGraph builds cfg's dependency graph and rejects what cannot
// be planned: a reference to an address that is not declared (at the
// position of the resource, or of the machine module that refers to it),
// an address that refers to itself, and a cycle, named member by member
// with positions and closed on its first member. Undeclared references
// are reported all together, before any cycle.
//
// It reads no state and runs no Nix: validate, graph and plan use it
// alike.
func BuildConfigGraph(cfg *spec.Config) (*ConfigGraph, error) {
	cg := &ConfigGraph{
		Graph: graph.New[string](),
		Deps:  make(map[string][]string, len(cfg.Resources)+len(cfg.Machines)),
		Pos:   make(map[string]spec.Pos, len(cfg.Resources)+len(cfg.Machines)),
	}
	for _, r := range cfg.Resources {
		cg.Graph.Add(r.Addr)
		cg.Pos[r.Addr] = r.Pos
	}
	for _, m := range cfg.Machines {
		cg.Graph.Add(m.Addr)
		cg.Pos[m.Addr] = m.Pos
	}
	var diags spec.Diagnostics
	// connect records addr's dependencies; at gives the position of the
	// first place each one is named.
	connect := func(addr string, deps []string, at map[string]spec.Pos) {
		sort.Strings(deps)
		for _, d := range deps {
			if _, ok := cg.Pos[d]; !ok {
				diags = append(diags, spec.Errorf(at[d], fmt.Sprintf("%s refers to %s, which is not declared", addr, d)))
				continue
			}
			if d == addr {
				diags = append(diags, spec.Errorf(at[d], fmt.Sprintf("reference cycle: %s refers to itself", addr)))
				continue
			}
			cg.Graph.Connect(d, addr)
		}
		cg.Deps[addr] = deps
	}
	for _, r := range cfg.Resources {
		var deps []string
		at := map[string]spec.Pos{}
		add := func(d string) {
			if _, seen := at[d]; !seen {
				at[d] = r.Pos
				deps = append(deps, d)
			}
		}
		for _, ref := range spec.Refs(r.Args) {
			add(ref.Addr)
		}
		for _, d := range r.DependsOn {
			add(d)
		}
		connect(r.Addr, deps, at)
	}
	for _, m := range cfg.Machines {
		var deps []string
		at := map[string]spec.Pos{}
		add := func(d string, pos spec.Pos) {
			if _, seen := at[d]; !seen {
				at[d] = pos
				deps = append(deps, d)
			}
		}
		for _, d := range m.DependsOn {
			add(d, m.Pos)
		}
		for t := &m.Target; t != nil; t = t.Jump {
			pos := t.Pos
			if pos.IsZero() {
				pos = m.Pos
			}
			for _, ref := range spec.Refs(t.Refs) {
				add(ref.Addr, pos)
			}
		}
		for _, mod := range m.Modules {
			pos := mod.Pos
			if pos.IsZero() {
				pos = m.Pos
			}
			for _, ref := range spec.Refs(mod.Args) {
				add(ref.Addr, pos)
			}
		}
		connect(m.Addr, deps, at)
	}
	if err := diags.Err(); err != nil {
		return nil, err
	}
	if cyc := cg.Graph.Cycle(); cyc != nil {
		parts := make([]string, 0, len(cyc)+1)
		for _, a := range append(cyc, cyc[0]) {
			parts = append(parts, fmt.Sprintf("%s (%s)", a, cg.Pos[a]))
		}
		return nil, spec.Errorf(cg.Pos[cyc[0]], "reference cycle: "+strings.Join(parts, " -> "))
	}
	return cg, nil
}

// WriteDOT draws the configuration graph: every resource and machine
// (machines as boxes), labelled with its address, and its dependency
// edges.
func (cg *ConfigGraph) WriteDOT(w io.Writer) error {
	return cg.Graph.WriteDOTWith(w, "ferry", graph.DOTOptions[string]{Shape: machineShape})
}

func machineShape(addr string) string {
	switch {
	case state.IsMachineAddr(addr):
		return "box"
	case plan.IsGateAddr(addr):
		return "diamond"
	}
	return ""
}

// PlanGraph is the graph apply walks for p: every resource and machine
// the plan changes (not the noops, nor the deferred machines), the plan's
// execution edges, and the rollout gates between batches (plan.GateAddr),
// which wait for their batch through ordering edges. It returns the batch
// each gate follows, by gate address.
func PlanGraph(p *plan.Plan) (*graph.Graph[string], map[string]int) {
	g := graph.New[string]()
	for _, r := range p.Resources {
		if r.Action != plan.Noop || r.DeleteDeposed != nil {
			g.Add(r.Addr)
		}
	}
	for _, m := range p.Machines {
		if m.Action.Runs() {
			g.Add(m.Addr)
		}
	}
	for _, e := range p.Edges {
		g.Connect(e[0], e[1])
	}
	return g, machines.AddRolloutGates(g, p.Rollout)
}

// WritePlanDOT draws p's execution graph (PlanGraph): nodes labelled with
// their action ("create null.resource.a", "deploy machine.web1", "gate
// rollout.batch-1 (max_failures 0)"), machines as boxes grouped by
// rollout batch, gates as diamonds, and the ordering edges into each gate
// dashed.
func WritePlanDOT(w io.Writer, p *plan.Plan) error {
	g, gates := PlanGraph(p)
	labels := map[string]string{}
	for _, r := range p.Resources {
		labels[r.Addr] = string(r.Action) + " " + r.Addr
	}
	for _, m := range p.Machines {
		labels[m.Addr] = string(m.Action) + " " + m.Addr
	}
	batchOf := map[string]int{}
	if ro := p.Rollout; ro != nil {
		for i, batch := range ro.Batches {
			for _, a := range batch {
				batchOf[a] = i + 1
			}
		}
		for gate := range gates {
			l := fmt.Sprintf("gate %s (max_failures %d", gate, ro.MaxFailures)
			if ro.Pause != "" {
				l += ", pause " + ro.Pause
			}
			labels[gate] = l + ")"
		}
	}
	return g.WriteDOTWith(w, "ferry", graph.DOTOptions[string]{
		Label: func(a string) string {
			if l, ok := labels[a]; ok {
				return l
			}
			return a
		},
		Shape: machineShape,
		Cluster: func(a string) string {
			if n := batchOf[a]; n > 0 {
				return "rollout batch " + strconv.Itoa(n) + " of " + strconv.Itoa(len(p.Rollout.Batches))
			}
			return ""
		},
		Ordering: true,
	})
}

// Validate checks cfg as plan would, without state and without Nix: the
// configuration graph (undeclared references and cycles, resources and
// machines alike), then each resource's arguments through its provider,
// planned against an empty state without refresh. Machines are not
// evaluated: that needs Nix, which is plan's job.
func (e *Engine) Validate(ctx context.Context, cfg *spec.Config) error {
	if _, err := BuildConfigGraph(cfg); err != nil {
		return err
	}
	// The resources alone: their dependencies on machines are checked
	// above, and the plan of resources knows no machines.
	machines := make(map[string]bool, len(cfg.Machines))
	for _, m := range cfg.Machines {
		machines[m.Addr] = true
	}
	resourcesOnly := *cfg
	resourcesOnly.Machines = nil
	resourcesOnly.Rollout = nil
	resourcesOnly.Resources = make([]*spec.Resource, len(cfg.Resources))
	for i, r := range cfg.Resources {
		cp := *r
		cp.DependsOn = nil
		for _, d := range r.DependsOn {
			if !machines[d] {
				cp.DependsOn = append(cp.DependsOn, d)
			}
		}
		resourcesOnly.Resources[i] = &cp
	}
	dep := cfg.Deployment
	if dep == "" {
		dep = "default"
	}
	empty := &state.State{FormatVersion: state.FormatVersion, Deployment: dep, Resources: map[string]*state.Resource{}}
	// Offline: providers that need credentials or the network check the
	// arguments without them (offlineRegistry).
	reg, err := offlineRegistry(e.Providers)
	if err != nil {
		return err
	}
	offline := *e
	offline.Providers = reg
	_, err = offline.BuildPlan(ctx, &resourcesOnly, empty, PlanOptions{Deployment: dep, NoRefresh: true})
	return err
}
