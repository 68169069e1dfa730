package cli

import (
	"fmt"
	"sort"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
)

// ValidateCmd is `ferry validate`.
type ValidateCmd struct {
	JSON bool `name:"json" help:"Print the result as JSON."`
}

// Run validates.
func (c *ValidateCmd) Run(a *App) error {
	cfg, err := a.LoadConfig()
	if err == nil {
		err = a.checkConfig(cfg)
	}
	if c.JSON {
		out := map[string]any{"valid": err == nil}
		if err != nil {
			out["error"] = err.Error()
		} else {
			out["deployment"] = a.DeploymentFor(cfg)
			out["resources"] = len(cfg.Resources)
			out["outputs"] = len(cfg.Outputs)
		}
		if werr := writeJSON(a.Stdout, out); werr != nil {
			return werr
		}
		if err != nil {
			return &ExitError{Code: 1}
		}
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Configuration is valid: deployment %q, %d resources, %d outputs.\n", a.DeploymentFor(cfg), len(cfg.Resources), len(cfg.Outputs))
	return nil
}

// checkConfig runs the checks plan makes of the resources (undeclared
// references, reference cycles, each provider's argument checks) against
// an empty state: no state access, no refresh. Machines are left out: they
// need Nix evaluation, which is plan's job.
func (a *App) checkConfig(cfg *spec.Config) error {
	reg, err := a.Registry(cfg.Dir)
	if err != nil {
		return err
	}
	resourcesOnly := *cfg
	resourcesOnly.Machines = nil
	eng := &engine.Engine{Providers: reg, Version: Version}
	empty := &state.State{FormatVersion: state.FormatVersion, Resources: map[string]*state.Resource{}}
	_, err = eng.BuildPlan(a.ctx, &resourcesOnly, empty, engine.PlanOptions{Deployment: a.DeploymentFor(cfg), NoRefresh: true})
	return err
}

func sortStrings(s []string) { sort.Strings(s) }
