package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// RollbackCmd is `ferry rollback NAME [GEN]`.
type RollbackCmd struct {
	Name       string `arg:"" name:"machine" help:"The machine, by name."`
	Generation int    `arg:"" optional:"" name:"generation" help:"The generation to switch to (default: the one before the current one; see 'ferry generations')."`
}

// errNothingToDo ends a state update that found nothing to change.
var errNothingToDo = errors.New("nothing to do")

// Run points the machine's system profile at an earlier (or any existing)
// generation, switches to it, and records that in state, all under the
// state lock so that no apply runs meanwhile.
func (c *RollbackCmd) Run(a *App) error {
	if c.Generation < 0 {
		return fmt.Errorf("generation %d: generations are numbered from 1; see `ferry generations %s`", c.Generation, c.Name)
	}
	f, m, err := a.openMachine(c.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	err = a.modifyState("rollback", func(st *state.State) (*state.State, error) {
		// Once started, a rollback finishes and is recorded even after a
		// first interrupt.
		ctx := a.opCtx
		conn, err := f.dial(a.ctx, m)
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", m.Name, err)
		}
		gens, err := remote.Generations(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", m.Name, err)
		}
		from, to, err := machines.RollbackTarget(gens, c.Generation)
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w; see `ferry generations %s`", m.Name, err, m.Name)
		}
		if from != nil && from.Number == to.Number {
			cur, err := remote.CurrentSystem(ctx, conn)
			if err == nil && cur == to.Path {
				fmt.Fprintf(a.Stdout, "%s already runs generation %d (%s): nothing to do.\n", m.Name, to.Number, to.Path)
				return nil, errNothingToDo
			}
		}
		if err := remote.Rollback(ctx, conn, to.Number); err != nil {
			return nil, fmt.Errorf("machine %s: %w", m.Name, err)
		}
		if from != nil {
			fmt.Fprintf(a.Stdout, "%s: rolled back from generation %d (%s)\n%s  to generation %d (%s)\n",
				m.Name, from.Number, from.Path, strings.Repeat(" ", len(m.Name)), to.Number, to.Path)
		} else {
			fmt.Fprintf(a.Stdout, "%s: switched to generation %d (%s)\n", m.Name, to.Number, to.Path)
		}

		rec := machines.RecordFor(st, m)
		if rec.HostKey == "" {
			rec.HostKey = conn.HostKey()
		}
		rec.Path, rec.Generation, rec.Activation, rec.DeployedAt = to.Path, to.Number, remote.ActionSwitch, time.Now().UTC()
		rec.Drv = machines.DeriverOn(a.opCtx, conn, to.Path)
		out := st.Clone()
		if out.Machines == nil {
			out.Machines = map[string]*state.Machine{}
		}
		out.Machines[m.Addr] = rec
		return out, nil
	})
	if errors.Is(err, errNothingToDo) {
		return nil
	}
	return err
}
