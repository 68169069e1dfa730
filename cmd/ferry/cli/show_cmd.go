package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
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
		p, err := a.readPlanFile(c.PlanFile)
		if err != nil {
			return err
		}
		if c.JSON {
			data, err := plan.Encode(redactPlan(p))
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
		reg, err := a.Registry(a.Chdir)
		if err != nil {
			return err
		}
		data, err := state.Encode(redactState(st, reg))
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
	renderOutputs(a, st.Outputs, st.SensitiveOutputs)
	return nil
}

func renderStateResource(a *App, addr string, r *state.Resource) {
	fmt.Fprintf(a.Stdout, "\n# %s", addr)
	if r.DeclaredAt != "" {
		fmt.Fprintf(a.Stdout, "  [%s]", r.DeclaredAt)
	}
	fmt.Fprintln(a.Stdout)
	if r.Tainted {
		fmt.Fprintln(a.Stdout, "    (tainted: the next plan replaces it)")
	}
	hidden := map[string]bool{}
	if reg, err := a.Registry(a.Chdir); err == nil {
		if s, ok := reg.Schema(r.Type); ok {
			for _, k := range s.Sensitive() {
				hidden[k] = true
			}
		}
	}
	for _, k := range sortedKeys(r.Attrs) {
		v := spec.Render(r.Attrs[k])
		if hidden[k] {
			v = sensitiveMark
		}
		fmt.Fprintf(a.Stdout, "    %s = %s\n", k, v)
	}
	if r.Deposed != nil {
		fmt.Fprintln(a.Stdout, "    (a deposed object of a create-before-destroy replacement is still to be deleted)")
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
	if m.Unverified() {
		fmt.Fprintf(a.Stdout, "    status     = %s\n", machineStatus(m))
	}
	if len(m.Keys) > 0 {
		fmt.Fprintf(a.Stdout, "    keys       = %s (hashes only)\n", strings.Join(sortedKeys(m.Keys), ", "))
	}
	if r := m.LastRollback; r != nil {
		fmt.Fprintf(a.Stdout, "    rolled back = %s: to %s (%s)\n", r.At.UTC().Format(time.RFC3339), r.To, firstLine(r.Reason))
	}
}

// renderStateMachineDetail shows everything state records about one
// machine (`ferry state show machine.NAME`): the pinned host key in full,
// and each key's hash, never a secret (state holds none).
func renderStateMachineDetail(a *App, addr string, m *state.Machine) {
	w := a.Stdout
	fmt.Fprintf(w, "\n# %s", addr)
	if m.DeclaredAt != "" {
		fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
	}
	fmt.Fprintln(w)
	line := func(k, v string) {
		if k == "" { // a continuation of the line above
			fmt.Fprintf(w, "    %-13s   %s\n", "", v)
			return
		}
		fmt.Fprintf(w, "    %-13s = %s\n", k, v)
	}
	line("target", m.Target)
	switch fp, err := remote.Fingerprint(m.HostKey); {
	case m.HostKey == "":
		line("host key", "(none pinned: the next plan trusts the key the host presents, and apply enforces it)")
	case err != nil:
		line("host key", m.HostKey+" (unreadable: "+err.Error()+")")
	default:
		line("host key", fp)
		line("", m.HostKey)
	}
	line("system", orNone(m.Path))
	if m.Drv != "" {
		line("derivation", m.Drv)
	}
	if m.Generation > 0 {
		line("generation", strconv.Itoa(m.Generation))
	}
	if m.Activation != "" {
		line("activation", m.Activation)
	}
	if !m.DeployedAt.IsZero() {
		line("deployed", m.DeployedAt.UTC().Format(time.RFC3339))
	}
	line("status", machineStatus(m))
	if m.BootID != "" {
		line("boot id", m.BootID)
	}
	if r := m.LastRollback; r != nil {
		line("last rollback", fmt.Sprintf("%s: from %s to %s (%s)", r.At.UTC().Format(time.RFC3339), orNone(r.From), orNone(r.To), firstLine(r.Reason)))
	}
	if len(m.Keys) == 0 {
		line("keys", "(none uploaded)")
	}
	for i, dest := range sortedKeys(m.Keys) {
		k := ""
		if i == 0 {
			k = "keys"
		}
		line(k, dest+" "+m.Keys[dest]+" (hash only)")
	}
}

// machineStatus renders a machine's recorded status with its reason and
// time.
func machineStatus(m *state.Machine) string {
	s := m.Status
	if s == "" {
		return state.StatusVerified + " (no status recorded: treated as verified)"
	}
	if !m.StatusAt.IsZero() {
		s += " at " + m.StatusAt.UTC().Format(time.RFC3339)
	}
	if m.StatusReason != "" {
		s += ": " + firstLine(m.StatusReason)
	}
	if m.Unverified() {
		s += "; the next plan deploys it again"
	}
	return s
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// readState reads the deployment's current state (see deploymentName).
func (a *App) readState() (*state.State, error) {
	dep, err := a.deploymentName()
	if err != nil {
		return nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
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
	dep, err := a.deploymentName()
	if err != nil {
		return nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, err
	}
	defer store.Close()
	return store.ReadSerial(a.ctx, dep, serial)
}

// deploymentName names the deployment for the commands that work on state
// without planning (state, show, unlock, delete): -d; else
// deployment(name=...) of the configuration; else "default" when there is
// no configuration file at all (the entry file is missing), which lets
// these commands work from any directory with --state. A configuration
// that exists but does not load is an error, never "default": guessing
// would show an empty state, or write into a new deployment.
func (a *App) deploymentName() (string, error) {
	if a.Deployment != "" {
		return a.Deployment, nil
	}
	dir, err := a.Dir()
	if err != nil {
		return "", err
	}
	if _, err := os.Stat(filepath.Join(dir, a.File)); errors.Is(err, fs.ErrNotExist) {
		return "default", nil
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		return "", fmt.Errorf("%w\npass -d NAME to name the deployment without loading the configuration", err)
	}
	return a.DeploymentFor(cfg), nil
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sortStrings(out)
	return out
}
