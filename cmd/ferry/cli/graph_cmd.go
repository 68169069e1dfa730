package cli

import (
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/graph"
)

// GraphCmd is `ferry graph`.
type GraphCmd struct {
	Plan string `name:"plan" placeholder:"FILE" help:"Draw the execution graph of a plan file instead of the configuration."`
}

// Run prints DOT.
func (c *GraphCmd) Run(a *App) error {
	g := graph.New[string]()
	labels := map[string]string{}
	if c.Plan != "" {
		p, err := readPlanFile(c.Plan)
		if err != nil {
			return err
		}
		for _, r := range p.Resources {
			if r.Action != "noop" {
				g.Add(r.Addr)
				labels[r.Addr] = string(r.Action) + " " + r.Addr
			}
		}
		for _, e := range p.Edges {
			g.Connect(e[0], e[1])
		}
	} else {
		cfg, err := a.LoadConfig()
		if err != nil {
			return err
		}
		for _, r := range cfg.Resources {
			g.Add(r.Addr)
		}
		for _, r := range cfg.Resources {
			for _, ref := range spec.Refs(r.Args) {
				g.Connect(ref.Addr, r.Addr)
			}
			for _, d := range r.DependsOn {
				g.Connect(d, r.Addr)
			}
		}
	}
	return g.WriteDOT(a.Stdout, "ferry", func(k string) string {
		if l, ok := labels[k]; ok {
			return l
		}
		return k
	})
}
