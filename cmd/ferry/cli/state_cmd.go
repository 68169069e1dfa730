package cli

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

// StateCmd groups the state subcommands.
type StateCmd struct {
	List    StateListCmd    `cmd:"" help:"List resource addresses in state."`
	Show    StateShowCmd    `cmd:"" help:"Show one resource's recorded attributes."`
	Pull    StatePullCmd    `cmd:"" help:"Print the current state snapshot (JSON)."`
	Push    StatePushCmd    `cmd:"" help:"Replace the state with a snapshot file (for repairs)."`
	Rm      StateRmCmd      `cmd:"" help:"Forget resources without destroying them."`
	Mv      StateMvCmd      `cmd:"" help:"Rename a resource in state."`
	History StateHistoryCmd `cmd:"" help:"List the state snapshots."`
}

// StateListCmd is `ferry state list`.
type StateListCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Run lists addresses.
func (c *StateListCmd) Run(a *App) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	if c.JSON {
		return writeJSON(a.Stdout, st.Addrs())
	}
	for _, addr := range st.Addrs() {
		fmt.Fprintln(a.Stdout, addr)
	}
	return nil
}

// StateShowCmd is `ferry state show ADDR`.
type StateShowCmd struct {
	Addr string `arg:"" help:"Resource address."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// Run shows one resource.
func (c *StateShowCmd) Run(a *App) error {
	st, err := a.readState()
	if err != nil {
		return err
	}
	r := st.Resources[c.Addr]
	if r == nil {
		return fmt.Errorf("%s is not in the state of deployment %q; see `ferry state list`", c.Addr, st.Deployment)
	}
	if c.JSON {
		return writeJSON(a.Stdout, r)
	}
	renderStateResource(a, c.Addr, r)
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
	File  string `arg:"" type:"existingfile" help:"A state file (as written by 'ferry state pull')."`
	Force bool   `name:"force" help:"Push even if the lineage differs from the current state's."`
}

// Run replaces the state.
func (c *StatePushCmd) Run(a *App) error {
	data, err := os.ReadFile(c.File)
	if err != nil {
		return err
	}
	pushed, err := state.Decode(c.File, data)
	if err != nil {
		return err
	}
	return a.repairState("state push", func(st *state.State) (*state.State, error) {
		if st.Lineage != "" && pushed.Lineage != st.Lineage && !c.Force {
			return nil, fmt.Errorf("%s has lineage %s but the deployment's state has %s: it belongs to another state; pass --force to push it anyway", c.File, pushed.Lineage, st.Lineage)
		}
		if st.Lineage != "" && pushed.Lineage == st.Lineage && pushed.Serial < st.Serial && !c.Force {
			fmt.Fprintf(a.Stderr, "note: %s has serial %d, older than the current %d; pushing it as a new snapshot\n", c.File, pushed.Serial, st.Serial)
		}
		out := pushed.Clone()
		out.Lineage = st.Lineage
		if out.Lineage == "" {
			out.Lineage = pushed.Lineage
		}
		return out, nil
	})
}

// StateRmCmd is `ferry state rm ADDR...`.
type StateRmCmd struct {
	Addrs []string `arg:"" name:"addr" help:"Resource addresses."`
}

// Run forgets resources.
func (c *StateRmCmd) Run(a *App) error {
	return a.modifyState("state rm", func(st *state.State) (*state.State, error) {
		out := st.Clone()
		for _, addr := range c.Addrs {
			if out.Resources[addr] == nil {
				return nil, fmt.Errorf("%s is not in state; see `ferry state list`", addr)
			}
			delete(out.Resources, addr)
			fmt.Fprintf(a.Stdout, "Removed %s (the real object was not touched)\n", addr)
		}
		return out, nil
	})
}

// StateMvCmd is `ferry state mv FROM TO`.
type StateMvCmd struct {
	From string `arg:"" help:"Current address."`
	To   string `arg:"" help:"New address."`
}

// Run renames a resource.
func (c *StateMvCmd) Run(a *App) error {
	return a.modifyState("state mv", func(st *state.State) (*state.State, error) {
		r := st.Resources[c.From]
		if r == nil {
			return nil, fmt.Errorf("%s is not in state; see `ferry state list`", c.From)
		}
		if st.Resources[c.To] != nil {
			return nil, fmt.Errorf("%s already exists in state", c.To)
		}
		out := st.Clone()
		delete(out.Resources, c.From)
		out.Resources[c.To] = r
		for addr, other := range out.Resources {
			for i, d := range other.Deps {
				if d == c.From {
					cp := *other
					cp.Deps = append([]string(nil), other.Deps...)
					cp.Deps[i] = c.To
					out.Resources[addr] = &cp
				}
			}
		}
		fmt.Fprintf(a.Stdout, "Moved %s to %s\n", c.From, c.To)
		return out, nil
	})
}

// modifyState applies fn to the current state under the lock and writes
// the result as a new snapshot.
func (a *App) modifyState(op string, fn func(*state.State) (*state.State, error)) error {
	return a.changeState(op, false, fn)
}

// repairState is modifyState for which a damaged latest snapshot is no
// obstacle: fn gets an empty state with that serial and no lineage, and
// its result is written on top of it (how `ferry state push` restores an
// earlier snapshot).
func (a *App) repairState(op string, fn func(*state.State) (*state.State, error)) error {
	return a.changeState(op, true, fn)
}

func (a *App) changeState(op string, repair bool, fn func(*state.State) (*state.State, error)) error {
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	dep := a.deploymentNoEval()
	lock, err := store.Lock(a.ctx, dep, engine.NewLockInfo(op, Version, time.Now()), a.LockTimeout)
	if err != nil {
		return err
	}
	defer lock.Release(context.WithoutCancel(a.ctx))
	st, _, err := store.Read(a.ctx, dep)
	if err != nil && repair {
		if serial, why, ok := damagedLatest(a.ctx, store, dep); ok {
			fmt.Fprintf(a.Stderr, "note: the latest snapshot of %q (serial %d) cannot be read (%s); writing serial %d on top of it\n", dep, serial, why, serial+1)
			st, err = &state.State{FormatVersion: state.FormatVersion, Deployment: dep, Serial: serial, Resources: map[string]*state.Resource{}}, nil
		}
	}
	if err != nil {
		return err
	}
	out, err := fn(st)
	if err != nil {
		return err
	}
	out.Serial = st.Serial + 1
	out.Deployment = dep
	if err := store.Write(context.WithoutCancel(a.ctx), lock, out); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "State of %q saved as serial %d.\n", dep, out.Serial)
	return nil
}

// StateHistoryCmd is `ferry state history`.
type StateHistoryCmd struct {
	JSON bool `name:"json" help:"Print JSON."`
}

// Run lists snapshots.
func (c *StateHistoryCmd) Run(a *App) error {
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	dep := a.deploymentNoEval()
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
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	dep := a.deploymentNoEval()
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

// damagedLatest returns the serial of the deployment's latest snapshot and
// why it cannot be read, or ok false when it can (then the problem is
// elsewhere and no repair should paper over it). Write still checks the
// lineage when the damaged snapshot's header is readable, and refuses to
// write on top of a snapshot of a newer format.
func damagedLatest(ctx context.Context, store *statestore.Store, dep string) (serial uint64, why string, ok bool) {
	hist, err := store.History(ctx, dep)
	if err != nil || len(hist) == 0 {
		return 0, "", false
	}
	last := hist[len(hist)-1]
	if last.Problem != "" {
		return last.Serial, last.Problem, true
	}
	if _, err := store.ReadSerial(ctx, dep, last.Serial); err != nil {
		return last.Serial, err.Error(), true
	}
	return 0, "", false
}
