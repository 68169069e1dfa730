package cli

import (
	"errors"
	"fmt"
	"strings"
	"time"

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
		from, to, err := rollbackTarget(gens, c.Generation)
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

		rec := &state.Machine{Target: targetString(m.Target), DeclaredAt: m.Pos.String()}
		if prev := st.Machines[m.Addr]; prev != nil {
			cp := *prev
			rec = &cp
			if rec.Target != targetString(m.Target) {
				rec.Target, rec.HostKey = targetString(m.Target), ""
			}
		}
		if rec.HostKey == "" {
			rec.HostKey = conn.HostKey()
		}
		rec.Path, rec.Generation, rec.Activation, rec.DeployedAt = to.Path, to.Number, remote.ActionSwitch, time.Now().UTC()
		rec.Drv = deriverOn(a, conn, to.Path)
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

// rollbackTarget picks the generation to switch to: want, or (want 0) the
// newest one older than the current one. from is the current generation,
// nil when the profile points to none of them.
func rollbackTarget(gens []remote.Generation, want int) (from, to *remote.Generation, err error) {
	for i := range gens {
		if gens[i].Current {
			from = &gens[i]
		}
	}
	if len(gens) == 0 {
		return nil, nil, errors.New("the host has no system generations to roll back to")
	}
	if want > 0 {
		for i := range gens {
			if gens[i].Number == want {
				return from, &gens[i], nil
			}
		}
		nums := make([]string, len(gens))
		for i, g := range gens {
			nums[i] = fmt.Sprint(g.Number)
		}
		return nil, nil, fmt.Errorf("generation %d does not exist on the host (it has %s)", want, strings.Join(nums, ", "))
	}
	if from == nil {
		return nil, nil, errors.New("the system profile points to none of its generations: name the generation to switch to")
	}
	for i := len(gens) - 1; i >= 0; i-- {
		if gens[i].Number < from.Number {
			return from, &gens[i], nil
		}
	}
	return nil, nil, fmt.Errorf("no generation older than the current one (%d) exists", from.Number)
}

// deriverOn is the derivation that built path, as the host's store records
// it; "" when unknown, so that the next plan shows no package diff rather
// than a wrong one.
func deriverOn(a *App, conn *remote.Conn, path string) string {
	out, err := conn.Output(a.opCtx, remote.Command("nix-store", "--query", "--deriver", path))
	drv := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(drv, "/nix/store/") || !strings.HasSuffix(drv, ".drv") {
		return ""
	}
	return drv
}
