package cli

import (
	"fmt"
	"sort"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// ValidateCmd is `ferry validate`.
type ValidateCmd struct {
	JSON bool `name:"json" help:"Print the result as JSON."`
}

// Run loads the configuration and checks it as plan would (engine.Validate:
// references and depends_on of resources and machines, cycles, each
// resource's arguments), without state and without Nix.
func (c *ValidateCmd) Run(a *App) error {
	cfg, err := a.LoadConfig()
	if err == nil {
		var reg *providers.Registry
		reg, err = a.Registry(cfg.Dir)
		if err == nil {
			eng := &engine.Engine{Providers: reg, Version: Version}
			err = eng.Validate(a.ctx, cfg)
		}
	}
	if c.JSON {
		out := map[string]any{"valid": err == nil}
		if err != nil {
			out["error"] = err.Error()
		} else {
			out["deployment"] = a.DeploymentFor(cfg)
			out["resources"] = len(cfg.Resources)
			out["machines"] = len(cfg.Machines)
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
	fmt.Fprintf(a.Stdout, "Configuration is valid: deployment %q, %s, %s, %s.\n", a.DeploymentFor(cfg), spec.Count(len(cfg.Resources), "resource"), spec.Count(len(cfg.Machines), "machine"), spec.Count(len(cfg.Outputs), "output"))
	return nil
}

func sortStrings(s []string) { sort.Strings(s) }
