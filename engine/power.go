package engine

import (
	"context"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers"
)

// PowerResult is what Power did to one machine's host.
type PowerResult struct {
	Machine  string // machine.NAME
	Resource string // the resource that is its host
	// State is the host's state afterwards ("stopped", "running"), from
	// its "state" attribute; "" when the provider reports none.
	State string
	Err   error
}

// Power stops, starts or reboots the hosts of machines ms through the
// providers of the resources that are their hosts (a target's Resource:
// an aws.ec2 machine's aws.instance), at most parallelism at once, and
// records each host's new attributes (a started instance may have a new
// public address) in state, under the deployment's lock. A machine whose
// target has no such resource, or whose resource is not in state yet,
// fails with what to run; the others go on. The error is for the run as a
// whole (state, lock); per-machine failures are in the results.
func (e *Engine) Power(ctx context.Context, cfg *spec.Config, deployment string, ms []*spec.Machine, op providers.PowerOp, parallelism int, lockTimeout time.Duration) ([]PowerResult, error) {
	configs, err := planProviders(e.Providers, cfg)
	if err != nil {
		return nil, err
	}
	ps := newProviderSet(e.Providers, mapValues(configs))
	results := make([]PowerResult, len(ms))
	_, err = e.ModifyState(ctx, deployment, string(op), lockTimeout, func(st *state.State) (*state.State, error) {
		out := st.Clone()
		changed := false
		var mu sync.Mutex // out, changed
		var g errgroup.Group
		g.SetLimit(max(parallelism, 1))
		for i, m := range ms {
			results[i] = PowerResult{Machine: m.Addr, Resource: m.Target.Resource}
			g.Go(func() error {
				rec, err := e.powerOne(ctx, ps, cfg, st, m, op)
				res := &results[i]
				if err != nil {
					res.Err = err
					return nil // the others go on
				}
				res.State, _ = rec.Attrs["state"].(string)
				mu.Lock()
				out.Resources[m.Target.Resource] = rec
				changed = true
				mu.Unlock()
				return nil
			})
		}
		_ = g.Wait()
		if !changed {
			return nil, nil // nothing to write
		}
		return out, nil
	})
	return results, err
}

// powerOne performs op on m's host and returns its record afterwards.
func (e *Engine) powerOne(ctx context.Context, ps *providerSet, cfg *spec.Config, st *state.State, m *spec.Machine, op providers.PowerOp) (*state.Resource, error) {
	addr := m.Target.Resource
	if addr == "" {
		return nil, fmt.Errorf("%s runs on a host ferry did not create (target %s): %s it yourself, or use ferry reboot", m.Addr, m.Target.Kind, op)
	}
	rec := st.Resources[addr]
	if rec == nil {
		return nil, fmt.Errorf("%s: its host %s does not exist yet: run ferry plan and ferry apply", m.Addr, addr)
	}
	key := rec.ProviderKey()
	if r := cfg.ResourceByAddr(addr); r != nil {
		key = r.ProviderKey()
	}
	res, err := ps.resource(ctx, key, rec.Type)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", addr, err)
	}
	sw, ok := providers.PowerSwitchOf(res.Resource)
	if !ok {
		return nil, fmt.Errorf("%s: %s cannot be stopped or started by ferry", addr, rec.Type)
	}
	release, err := res.slot(ctx)
	if err != nil {
		return nil, err
	}
	defer release()
	resp, err := sw.Power(ctx, providers.PowerRequest{Addr: addr, Op: op, State: spec.CloneMap(rec.Attrs)})
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, addr, err)
	}
	cp := *rec
	cp.Attrs = resp.State
	return &cp, nil
}
