package cli

import (
	"fmt"
	"os"

	"github.com/nixferry/ferry/engine/nixopsimport"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
)

// ImportNixopsCmd is `ferry import-nixops EXPORT.json [-d NAME]`: NixOps
// state (`nixops export`) into ferry state.
type ImportNixopsCmd struct {
	Export string `arg:"" name:"export" help:"The output of nixops export (JSON; relative to -C DIR)."`
	JSON   bool   `name:"json" help:"Print what was imported as JSON."`
}

// Run imports the deployment -d names (a NixOps name or UUID; without -d,
// the export's only deployment) into the ferry deployment of that name:
// its "none" machines with target, pinned host key and deployed system,
// everything else recorded, not managed. No host is contacted.
func (c *ImportNixopsCmd) Run(a *App) error {
	data, err := os.ReadFile(a.path(c.Export))
	if err != nil {
		return fmt.Errorf("import-nixops: %w", err)
	}
	exp, err := nixopsimport.Parse(data)
	if err != nil {
		return fmt.Errorf("import-nixops %s: %w", c.Export, err)
	}
	d, err := exp.Select(a.Deployment)
	if err != nil {
		return fmt.Errorf("import-nixops %s: %w", c.Export, err)
	}
	dep := a.Deployment
	if dep == "" {
		dep = d.Name()
	}
	eng, closeStore, err := a.stateEngine()
	if err != nil {
		return err
	}
	defer closeStore()
	var rep *nixopsimport.Report
	if _, err := eng.ModifyState(a.ctx, dep, "import-nixops", a.LockTimeout, func(st *state.State) (*state.State, error) {
		out, r, err := nixopsimport.Import(st, d)
		rep = r
		return out, err
	}); err != nil {
		return fmt.Errorf("import-nixops: %w", err)
	}
	if c.JSON {
		return writeJSON(a.Stdout, map[string]any{"deployment": dep, "nixops_uuid": d.UUID, "machines": rep.Machines, "recorded": rep.Recorded, "skipped": rep.Skipped})
	}
	fmt.Fprintf(a.Stdout, "Imported NixOps deployment %s (%s) as ferry deployment %q:\n", d.Name(), d.UUID, dep)
	for _, m := range rep.Machines {
		key := "host key trusted on first use"
		if m.HostKey {
			key = "host key pinned"
		}
		sys := "no deployed system recorded"
		if m.Path != "" {
			sys = m.Path
		}
		fmt.Fprintf(a.Stdout, "  %s  %s, %s, %s\n", m.Addr, m.Target, key, sys)
	}
	for _, addr := range rep.Recorded {
		fmt.Fprintf(a.Stdout, "  %s  recorded, not managed\n", addr)
	}
	for _, s := range rep.Skipped {
		fmt.Fprintf(a.Stdout, "  skipped %s\n", s)
	}
	fmt.Fprintf(a.Stdout, "%s imported, %s recorded, not managed (kept in state, shown by ferry state list; ferry changes nothing there).\n",
		spec.Count(len(rep.Machines), "machine"), spec.Count(len(rep.Recorded), "resource"))
	fmt.Fprintln(a.Stdout, "Next: declare the machines in ferry.star (nixops.network reads network.nix) and run ferry plan.")
	return nil
}
