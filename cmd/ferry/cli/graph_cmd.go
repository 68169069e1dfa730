package cli

import (
	"github.com/nixferry/ferry/engine"
)

// GraphCmd is `ferry graph`.
type GraphCmd struct {
	Plan string `name:"plan" placeholder:"FILE" help:"Draw the execution graph of a plan file (with its rollout batches) instead of the configuration."`
}

// Run prints DOT: the configuration's resources and machines with their
// references and depends_on, or a plan's actions, edges and rollout gates.
func (c *GraphCmd) Run(a *App) error {
	if c.Plan != "" {
		p, err := a.readPlanFile(c.Plan)
		if err != nil {
			return err
		}
		return engine.WritePlanDOT(a.Stdout, p)
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		return err
	}
	cg, err := engine.BuildConfigGraph(cfg)
	if err != nil {
		return err
	}
	return cg.WriteDOT(a.Stdout)
}
