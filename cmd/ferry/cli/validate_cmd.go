package cli

import (
	"fmt"
	"sort"
)

// ValidateCmd is `ferry validate`.
type ValidateCmd struct {
	JSON bool `name:"json" help:"Print the result as JSON."`
}

// Run validates.
func (c *ValidateCmd) Run(a *App) error {
	cfg, err := a.LoadConfig()
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

func sortStrings(s []string) { sort.Strings(s) }
