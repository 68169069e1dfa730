package machines

import (
	"sync"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/providers/nix"
)

// What Nix reports while it evaluates and builds (nix.LogEvent) reaches
// the core through Sink.Nix, attributed to the machine it works for: an
// evaluation event to the machine being evaluated, a build event to the
// one machine whose system needs the derivation. A derivation several
// machines need (a shared dependency, or one system deployed to several
// hosts) is the run's (address ""): shown once, not once per machine.

// buildAttribution says which machine each derivation of one build is for.
type buildAttribution struct {
	byTop map[string][]string // toplevel drv -> machine addresses

	once   sync.Once
	owners map[string][]string // drv -> toplevel drvs needing it
}

func newBuildAttribution(p *plan.Plan) *buildAttribution {
	a := &buildAttribution{byTop: map[string][]string{}}
	for _, m := range p.Machines {
		if m.Action == plan.Deploy && m.BuiltLocally() {
			a.byTop[m.Drv] = append(a.byTop[m.Drv], m.Addr)
		}
	}
	return a
}

// machine is the machine drv is built for, "" when several (or none)
// need it. The derivation closures are read at the first build of a
// derivation that is not a system.
func (a *buildAttribution) machine(drv string) string {
	if drv == "" {
		return ""
	}
	if addrs, ok := a.byTop[drv]; ok {
		return only(addrs)
	}
	a.once.Do(func() {
		tops := make([]string, 0, len(a.byTop))
		for top := range a.byTop {
			tops = append(tops, top)
		}
		// A closure that cannot be read attributes its builds to the run.
		a.owners, _ = nix.DerivationOwners(tops)
	})
	var addrs []string
	for _, top := range a.owners[drv] {
		addrs = append(addrs, a.byTop[top]...)
	}
	return only(addrs)
}

func only(addrs []string) string {
	if len(addrs) == 1 {
		return addrs[0]
	}
	return ""
}

// forward sends a build's events to sink, attributed.
func (a *buildAttribution) forward(sink Sink) func(nix.LogEvent) {
	return func(ev nix.LogEvent) { sink.Nix(a.machine(ev.Drv), ev) }
}
