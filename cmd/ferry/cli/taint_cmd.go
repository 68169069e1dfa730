package cli

import (
	"fmt"

	"github.com/nixferry/ferry/engine/spec"
)

// TaintCmd is `ferry taint ADDR`.
type TaintCmd struct {
	Addr string `arg:"" help:"Resource address."`
}

// Run marks the resource for replacement by the next plan.
func (c *TaintCmd) Run(a *App) error { return a.taint(c.Addr, true) }

// UntaintCmd is `ferry untaint ADDR`.
type UntaintCmd struct {
	Addr string `arg:"" help:"Resource address."`
}

// Run clears the mark.
func (c *UntaintCmd) Run(a *App) error { return a.taint(c.Addr, false) }

func (a *App) taint(addr string, tainted bool) error {
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	eng, done, err := a.stateEngine()
	if err != nil {
		return err
	}
	defer done()
	if err := eng.Taint(a.ctx, dep, addr, tainted, a.LockTimeout); err != nil {
		return err
	}
	if tainted {
		fmt.Fprintf(a.Stdout, "%s is tainted: the next plan replaces it.\n", addr)
	} else {
		fmt.Fprintf(a.Stdout, "%s is no longer tainted.\n", addr)
	}
	return nil
}

// ImportCmd is `ferry import ADDR ID`.
type ImportCmd struct {
	Addr string `arg:"" help:"The address of a resource declared in the configuration."`
	ID   string `arg:"" help:"The ID of the existing object, as its provider names it."`
}

// Run adopts the object into state.
func (c *ImportCmd) Run(a *App) error {
	cfg, err := a.LoadConfig()
	if err != nil {
		return err
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	eng, done, err := a.Engine(store, cfg.Dir, nil)
	if err != nil {
		return err
	}
	defer done()
	rec, err := eng.Import(a.ctx, cfg, a.DeploymentFor(cfg), c.Addr, c.ID, a.LockTimeout)
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Imported %s (%s) into deployment %q:\n", c.Addr, c.ID, a.DeploymentFor(cfg))
	for _, k := range sortedKeys(rec.Attrs) {
		fmt.Fprintf(a.Stdout, "    %s = %s\n", k, spec.Render(rec.Attrs[k]))
	}
	fmt.Fprintln(a.Stdout, "Run `ferry plan` to see how it differs from the configuration.")
	return nil
}
