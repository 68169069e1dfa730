package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// PinHostKey records key (authorized_keys form) as the host key of the
// machine m in the deployment's state, for its target as configured now:
// `ferry host-key pin` after a host was reinstalled. A machine whose
// configuration sets host_key is refused: the configuration wins over
// state, so the key must change there. It returns the record written and
// the key pinned before ("" when none).
func (e *Engine) PinHostKey(ctx context.Context, deployment string, m *spec.Machine, key string, lockTimeout time.Duration) (rec *state.Machine, before string, err error) {
	if err := HostKeyPinnable(m); err != nil {
		return nil, "", err
	}
	key, err = remote.ParseHostKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", m.Addr, err)
	}
	_, err = e.ModifyState(ctx, deployment, "host-key pin", lockTimeout, func(st *state.State) (*state.State, error) {
		before = PinnedHostKey(m.Target, st.Machines[m.Addr])
		next := RecordFor(st, m)
		next.HostKey = key
		out := st.Clone()
		if out.Machines == nil {
			out.Machines = map[string]*state.Machine{}
		}
		out.Machines[m.Addr] = next
		rec = next
		return out, nil
	})
	return rec, before, err
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
