package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/state"
)

// StateCmd groups the state subcommands. Resources and machines
// ("machine.NAME") are addressed alike; none of them touches a real
// object or host.
type StateCmd struct {
	List    StateListCmd    `cmd:"" help:"List the resources and machines in state."`
	Show    StateShowCmd    `cmd:"" help:"Show what state records for one resource or machine."`
	Pull    StatePullCmd    `cmd:"" help:"Print the current state snapshot (JSON)."`
	Push    StatePushCmd    `cmd:"" help:"Replace the state with a snapshot file (for repairs)."`
	Rm      StateRmCmd      `cmd:"" help:"Forget resources or machines without destroying them."`
	Mv      StateMvCmd      `cmd:"" help:"Rename a resource or machine in state."`
	History StateHistoryCmd `cmd:"" help:"List the state snapshots."`
}

// StateListCmd is `ferry state list`.
type StateListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Run lists addresses: resources, then machines.
func (c *StateListCmd) Run(a *App) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	addrs := engine.StateAddrs(st)
	recorded := engine.RecordedAddrs(st)
	if c.JSON {
		return writeJSON(a.Stdout, append(addrs, recorded...))
	}
	for _, addr := range addrs {
		fmt.Fprintln(a.Stdout, addr)
	}
	for _, addr := range recorded {
		fmt.Fprintf(a.Stdout, "%s (recorded, not managed: %s)\n", addr, st.Recorded[addr].Why)
	}
	return nil
}

// StateShowCmd is `ferry state show ADDR`.
type StateShowCmd struct {
	Addr string `arg:"" help:"Resource address, machine.NAME, or the address of an object recorded, not managed (ferry import-nixops)."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// Run shows one resource, machine or recorded object.
func (c *StateShowCmd) Run(a *App) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	if rec := st.Recorded[c.Addr]; rec != nil {
		if c.JSON {
			return writeJSON(a.Stdout, rec)
		}
		renderRecorded(a, c.Addr, rec)
		return nil
	}
	r, m, err := engine.LookupAddr(st, c.Addr)
	if err != nil {
		return err
	}
	switch {
	case c.JSON && m != nil:
		return writeJSON(a.Stdout, m)
	case c.JSON:
		return writeJSON(a.Stdout, r)
	case m != nil:
		renderStateMachineDetail(a, c.Addr, m)
	default:
		renderStateResource(a, c.Addr, r)
	}
	return nil
}

// StatePullCmd is `ferry state pull`.
type StatePullCmd struct {
	Serial uint64 `name:"serial" placeholder:"N" help:"Print the snapshot with this serial instead of the current state (see 'ferry state history')."`
}

// Run prints the state.
func (c *StatePullCmd) Run(a *App) error {
	var st *state.State
	var err error
	if c.Serial > 0 {
		st, err = a.readSerial(c.Serial)
	} else {
		st, err = a.readState()
	}
	if err != nil {
		return err
	}
	data, err := state.Encode(st)
	if err != nil {
		return err
	}
	_, err = a.Stdout.Write(data)
	return err
}

// StatePushCmd is `ferry state push FILE`.
type StatePushCmd struct {
	File  string `arg:"" help:"A state file (as written by 'ferry state pull'; relative to -C DIR)."`
	Force bool   `name:"force" help:"Push even over an interrupted apply's journal, another deployment's or lineage's snapshot, or resource types this ferry does not know."`
}

// Run replaces the state.
func (c *StatePushCmd) Run(a *App) error {
	data, err := os.ReadFile(a.path(c.File))
	if err != nil {
		return err
	}
	pushed, err := state.Decode(c.File, data)
	if err != nil {
		return err
	}
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	eng, closeStore, err := a.stateEngine()
	if err != nil {
		return err
	}
	defer closeStore()
	res, err := eng.PushState(a.ctx, dep, pushed, engine.PushOptions{Source: displayPath(c.File), Force: c.Force, LockTimeout: a.LockTimeout})
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		fmt.Fprintf(a.Stderr, "note: %s\n", n)
	}
	for _, o := range res.Overridden {
		fmt.Fprintf(a.Stderr, "note: --force overrode: %s\n", o)
	}
	fmt.Fprintf(a.Stdout, "State of %q saved as serial %d.\n", dep, res.State.Serial)
	return nil
}

// displayPath is p relative to the working directory when it lies below
// it (kong makes file arguments absolute), else p.
func displayPath(p string) string {
	wd, err := os.Getwd()
	if err != nil {
		return p
	}
	rel, err := filepath.Rel(wd, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return p
	}
	return rel
}

// StateRmCmd is `ferry state rm ADDR...`.
type StateRmCmd struct {
	Addrs []string `arg:"" name:"addr" help:"Resource addresses, or machine.NAME."`
}

// Run forgets resources and machines.
func (c *StateRmCmd) Run(a *App) error {
	err := a.modifyState("state rm", func(st *state.State) (*state.State, error) {
		return engine.RemoveAddrs(st, c.Addrs)
	}, func() {
		for _, addr := range c.Addrs {
			if state.IsMachineAddr(addr) {
				fmt.Fprintf(a.Stdout, "Removed %s (the host was not touched)\n", addr)
			} else {
				fmt.Fprintf(a.Stdout, "Removed %s (the real object was not touched)\n", addr)
			}
		}
	})
	return err
}

// StateMvCmd is `ferry state mv FROM TO`.
type StateMvCmd struct {
	From string `arg:"" help:"Current address."`
	To   string `arg:"" help:"New address (same resource type, or machine.NAME for a machine)."`
}

// Run renames a resource or machine.
func (c *StateMvCmd) Run(a *App) error {
	return a.modifyState("state mv", func(st *state.State) (*state.State, error) {
		return engine.MoveAddr(st, c.From, c.To)
	}, func() {
		fmt.Fprintf(a.Stdout, "Moved %s to %s\n", c.From, c.To)
	})
}

// modifyState applies fn to the current state under the lock
// (engine.ModifyState), then calls each of done and says which serial was
// saved. fn returning nil, nil writes and prints nothing.
func (a *App) modifyState(op string, fn func(*state.State) (*state.State, error), done ...func()) error {
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	eng, closeStore, err := a.stateEngine()
	if err != nil {
		return err
	}
	defer closeStore()
	out, err := eng.ModifyState(a.ctx, dep, op, a.LockTimeout, fn)
	if err != nil || out == nil {
		return err
	}
	for _, d := range done {
		d()
	}
	fmt.Fprintf(a.Stdout, "State of %q saved as serial %d.\n", dep, out.Serial)
	return nil
}

// stateEngine wires an engine for state commands: the store, the
// providers (push checks resource types) and notes on stderr. Call the
// returned func when done.
func (a *App) stateEngine() (*engine.Engine, func(), error) {
	dir, err := a.Dir()
	if err != nil {
		return nil, nil, err
	}
	reg, err := a.Registry(dir)
	if err != nil {
		return nil, nil, err
	}
	store, err := a.OpenStore()
	if err != nil {
		return nil, nil, err
	}
	eng := &engine.Engine{Providers: reg, Store: store, Version: Version, Events: func(ev engine.Event) {
		switch ev.Kind {
		case engine.EventRecovered, engine.EventLockBroken, engine.EventWarning:
			fmt.Fprintf(a.Stderr, "note: %s\n", ev.Message)
		}
	}}
	return eng, func() { _ = store.Close() }, nil
}

// StateHistoryCmd is `ferry state history`.
type StateHistoryCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Run lists snapshots.
func (c *StateHistoryCmd) Run(a *App) error {
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	hist, err := store.History(a.ctx, dep)
	if err != nil {
		return err
	}
	if c.JSON {
		out := make([]historyJSON, 0, len(hist))
		for _, h := range hist {
			out = append(out, historyJSON{Serial: h.Serial, Lineage: h.Lineage, Time: h.Time.UTC(), Size: h.Size, URL: h.URL, Problem: h.Problem})
		}
		return writeJSON(a.Stdout, out)
	}
	if len(hist) == 0 {
		fmt.Fprintf(a.Stdout, "Deployment %q has no state yet.\n", dep)
		return nil
	}
	fmt.Fprintf(a.Stdout, "%-8s %-25s %10s  %s\n", "SERIAL", "WRITTEN", "BYTES", "LINEAGE")
	for _, h := range hist {
		lineage := h.Lineage
		if h.Problem != "" {
			lineage = "DAMAGED: " + h.Problem
		}
		fmt.Fprintf(a.Stdout, "%-8d %-25s %10d  %s\n", h.Serial, h.Time.UTC().Format(time.RFC3339), h.Size, lineage)
	}
	return nil
}

// historyJSON is one snapshot in `ferry state history --json`, with the
// snake_case keys of ferry's other JSON.
type historyJSON struct {
	Serial  uint64    `json:"serial"`
	Lineage string    `json:"lineage,omitempty"`
	Time    time.Time `json:"time"`
	Size    int64     `json:"size"`
	URL     string    `json:"url"`
	Problem string    `json:"problem,omitempty"`
}

// UnlockCmd is `ferry unlock ID`.
type UnlockCmd struct {
	ID string `arg:"" help:"The lock ID, as printed by the command that found the lock held."`
}

// Run breaks a lock.
func (c *UnlockCmd) Run(a *App) error {
	dep, err := a.deploymentName()
	if err != nil {
		return err
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	if err := store.Unlock(a.ctx, dep, c.ID); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Lock %s of deployment %q is broken. Run `ferry plan` before applying: the run that held it may have changed state.\n", c.ID, dep)
	return nil
}

// ListCmd is `ferry list`.
type ListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Run lists deployments.
func (c *ListCmd) Run(a *App) error {
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	deps, err := store.Deployments(a.ctx)
	if err != nil {
		return err
	}
	if c.JSON {
		if deps == nil {
			deps = []string{}
		}
		return writeJSON(a.Stdout, deps)
	}
	if len(deps) == 0 {
		fmt.Fprintf(a.Stdout, "No deployments in %s.\n", store.URL())
	}
	for _, d := range deps {
		fmt.Fprintln(a.Stdout, d)
	}
	return nil
}

// renderRecorded shows an object ferry records without managing it
// (state.Recorded): the other tool's type and attributes, and why ferry
// does not manage it.
func renderRecorded(a *App, addr string, rec *state.Recorded) {
	fmt.Fprintf(a.Stdout, "\n# %s  (recorded, not managed)\n", addr)
	fmt.Fprintf(a.Stdout, "    type = %s\n", rec.Type)
	for _, k := range sortedKeys(rec.Attrs) {
		fmt.Fprintf(a.Stdout, "    %s = %q\n", k, rec.Attrs[k])
	}
	fmt.Fprintf(a.Stdout, "    (%s)\n", rec.Why)
}
