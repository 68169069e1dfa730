package machines

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// Rules of the day-2 commands (rollback, keys upload, host-key pin) that
// change what state records of a machine.

// RecordFor is what a command that changes m's host starts its record
// from: a copy of the state's record when it is for m's target as
// configured now, else a new one (a record for another address describes
// another host: its system, generation and host key do not carry over).
func RecordFor(st *state.State, m *spec.Machine) *state.Machine {
	t, err := MachineTarget(m, st)
	if err != nil {
		t = ResolveTarget(m.Target) // references not resolvable: no record matches
	}
	target := t.String()
	if prev := st.Machines[m.Addr]; prev != nil && prev.Target == target {
		cp := *prev
		return &cp
	}
	return &state.Machine{Target: target, DeclaredAt: m.Pos.String()}
}

// RollbackTarget picks the generation to switch to: want, or (want 0) the
// newest one older than the current one. from is the current generation,
// nil when the profile points to none of them.
func RollbackTarget(gens []remote.Generation, want int) (from, to *remote.Generation, err error) {
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

// DeriverOn is the derivation that built path, as the host's store records
// it; "" when unknown, so that the next plan shows no package diff rather
// than a wrong one.
func DeriverOn(ctx context.Context, conn *remote.Conn, path string) string {
	out, err := conn.Output(ctx, remote.Command("nix-store", "--query", "--deriver", path))
	drv := strings.TrimSpace(out)
	if err != nil || !strings.HasPrefix(drv, "/nix/store/") || !strings.HasSuffix(drv, ".drv") {
		return ""
	}
	return drv
}

// HostKeyPinnable says why m's host key cannot be pinned in state, nil
// when it can.
func HostKeyPinnable(m *spec.Machine) error {
	if m.Target.HostKey != "" {
		return fmt.Errorf("%s pins its host key in the configuration (host_key at %s): change it there; state cannot override it", m.Addr, m.Target.Pos)
	}
	if x, ok := m.Target.Refs["host_key"]; ok {
		return fmt.Errorf("%s takes its host key from %s (host_key at %s), as the provider reports it: state cannot override it", m.Addr, spec.Render(x), m.Target.Pos)
	}
	return nil
}
