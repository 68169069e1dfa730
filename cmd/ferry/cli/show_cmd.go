package cli

import (
	"fmt"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// ShowCmd is `ferry show [PLAN]`.
type ShowCmd struct {
	PlanFile string `arg:"" optional:"" name:"plan" help:"A plan file; without it, the current state."`
	JSON     bool   `name:"json" help:"Print JSON."`
}

// Run shows a plan or the state.
func (c *ShowCmd) Run(a *App) error {
	if c.PlanFile != "" {
		p, err := readPlanFile(c.PlanFile)
		if err != nil {
			return err
		}
		if c.JSON {
			data, err := plan.Encode(p)
			if err != nil {
				return err
			}
			_, err = a.Stdout.Write(data)
			return err
		}
		renderPlan(a.Stdout, p, a.colors())
		return nil
	}
	st, err := a.readState()
	if err != nil {
		return err
	}
	if c.JSON {
		data, err := state.Encode(st)
		if err != nil {
			return err
		}
		_, err = a.Stdout.Write(data)
		return err
	}
	if len(st.Resources) == 0 && len(st.Machines) == 0 {
		fmt.Fprintf(a.Stdout, "Deployment %q has no resources.\n", st.Deployment)
		return nil
	}
	fmt.Fprintf(a.Stdout, "Deployment %q (serial %d, lineage %s)\n", st.Deployment, st.Serial, st.Lineage)
	for _, addr := range st.Addrs() {
		renderStateResource(a, addr, st.Resources[addr])
	}
	for _, addr := range sortedKeys(st.Machines) {
		renderStateMachine(a, addr, st.Machines[addr])
	}
	renderOutputs(a, st.Outputs)
	return nil
}

func renderStateResource(a *App, addr string, r *state.Resource) {
	fmt.Fprintf(a.Stdout, "\n# %s", addr)
	if r.DeclaredAt != "" {
		fmt.Fprintf(a.Stdout, "  [%s]", r.DeclaredAt)
	}
	fmt.Fprintln(a.Stdout)
	for _, k := range sortedKeys(r.Attrs) {
		fmt.Fprintf(a.Stdout, "    %s = %s\n", k, spec.Render(r.Attrs[k]))
	}
	if len(r.Deps) > 0 {
		fmt.Fprintf(a.Stdout, "    (depends on %v)\n", r.Deps)
	}
}

// renderStateMachine shows what ferry deployed to one machine.
func renderStateMachine(a *App, addr string, m *state.Machine) {
	fmt.Fprintf(a.Stdout, "\n# %s", addr)
	if m.DeclaredAt != "" {
		fmt.Fprintf(a.Stdout, "  [%s]", m.DeclaredAt)
	}
	fmt.Fprintln(a.Stdout)
	fmt.Fprintf(a.Stdout, "    target     = %s\n", m.Target)
	fmt.Fprintf(a.Stdout, "    system     = %s\n", orNone(m.Path))
	if m.Generation > 0 {
		fmt.Fprintf(a.Stdout, "    generation = %d\n", m.Generation)
	}
	if !m.DeployedAt.IsZero() {
		fmt.Fprintf(a.Stdout, "    deployed   = %s", m.DeployedAt.UTC().Format(time.RFC3339))
		if m.Activation != "" {
			fmt.Fprintf(a.Stdout, " (%s)", m.Activation)
		}
		fmt.Fprintln(a.Stdout)
	}
	if m.HostKey != "" {
		if fp, err := remote.Fingerprint(m.HostKey); err == nil {
			fmt.Fprintf(a.Stdout, "    host key   = %s\n", fp)
		}
	}
	if len(m.Keys) > 0 {
		fmt.Fprintf(a.Stdout, "    keys       = %s (hashes only)\n", strings.Join(sortedKeys(m.Keys), ", "))
	}
	if r := m.LastRollback; r != nil {
		fmt.Fprintf(a.Stdout, "    rolled back = %s: to %s (%s)\n", r.At.UTC().Format(time.RFC3339), r.To, firstLine(r.Reason))
	}
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readState reads the deployment's state (the config, if present, names
// the deployment).
func (a *App) readState() (*state.State, error) {
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	dep := a.deploymentNoEval()
	st, _, err := store.Read(a.ctx, dep)
	if err != nil {
		return nil, err
	}
	if st.Deployment == "" {
		st.Deployment = dep
	}
	return st, nil
}

// readSerial reads one earlier snapshot of the deployment, without the
// journal.
func (a *App) readSerial(serial uint64) (*state.State, error) {
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return store.ReadSerial(a.ctx, a.deploymentNoEval(), serial)
}

// deploymentNoEval names the deployment for commands that must work even
// when the configuration is broken: -d, else the config's if it loads,
// else "default".
func (a *App) deploymentNoEval() string {
	if a.Deployment != "" {
		return a.Deployment
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		return "default"
	}
	return a.DeploymentFor(cfg)
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
