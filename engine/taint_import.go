package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers"
)

// Taint marks (or, with tainted false, unmarks) a resource so that the
// next plan replaces it (`ferry taint ADDR`, `ferry untaint ADDR`).
func (e *Engine) Taint(ctx context.Context, deployment, addr string, tainted bool, lockTimeout time.Duration) error {
	op := "taint"
	if !tainted {
		op = "untaint"
	}
	_, err := e.ModifyState(ctx, deployment, op, lockTimeout, func(st *state.State) (*state.State, error) {
		rec, _, err := LookupAddr(st, addr)
		if err != nil {
			return nil, err
		}
		if rec == nil {
			return nil, fmt.Errorf("%s is a machine: taint names resources; redeploy a machine with `ferry plan --replace %s`", addr, addr)
		}
		if rec.Tainted == tainted {
			return nil, nil // nothing to write
		}
		cp := *rec
		cp.Tainted = tainted
		out := st.Clone()
		out.Resources[addr] = &cp
		return out, nil
	})
	return err
}

// Import adopts the existing object id as the configured resource addr
// (`ferry import ADDR ID`): the provider reads it by its ID and state
// records it, so that the next plan compares it with the configuration
// instead of creating another. The resource must be declared and not yet
// in state.
func (e *Engine) Import(ctx context.Context, cfg *spec.Config, deployment, addr, id string, lockTimeout time.Duration) (*state.Resource, error) {
	r := cfg.ResourceByAddr(addr)
	if r == nil {
		var all []string
		for _, r := range cfg.Resources {
			all = append(all, r.Addr)
		}
		msg := fmt.Sprintf("import %s: no such resource in the configuration; declare it first, then import", addr)
		if near := spec.Nearest(addr, all); near != "" {
			msg += fmt.Sprintf(" (did you mean %s?)", near)
		}
		return nil, fmt.Errorf("%s", msg)
	}
	configs, err := planProviders(e.Providers, cfg)
	if err != nil {
		return nil, err
	}
	ps := newProviderSet(e.Providers, mapValues(configs))
	var rec *state.Resource
	_, err = e.ModifyState(ctx, deployment, "import", lockTimeout, func(st *state.State) (*state.State, error) {
		if st.Resources[addr] != nil {
			return nil, fmt.Errorf("import %s: it is already in state; `ferry state rm %s` first to import another object in its place", addr, addr)
		}
		res, err := ps.resource(ctx, r.ProviderKey(), r.Type)
		if err != nil {
			return nil, fmt.Errorf("import %s: %w", addr, err)
		}
		resp, err := res.importObject(ctx, providers.ImportRequest{Addr: addr, ID: id})
		if err != nil {
			return nil, fmt.Errorf("import %s %q: %w; nothing was recorded", addr, id, err)
		}
		rec = &state.Resource{Type: r.Type, Attrs: resp.State, DeclaredAt: r.Pos.String(), Provider: r.Provider, SchemaVersion: res.Schema().Version}
		out := st.Clone()
		out.Resources[addr] = rec
		return out, nil
	})
	return rec, err
}

func mapValues[K comparable, V any](m map[K]V) []V {
	out := make([]V, 0, len(m))
	for _, v := range m {
		out = append(out, v)
	}
	return out
}
