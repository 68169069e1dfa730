package engine

import (
	"context"
	"fmt"
	"sort"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/providers"
)

// adoptIntents settles the creates an interrupted apply journalled but did
// not record (state.Intents): each is looked up by its idempotency token,
// and the object found is recorded, adopted, so that it is neither made
// twice nor left untracked; an intent whose create made nothing is
// dropped. A provider that cannot adopt keeps the intent and the plan
// fails, naming the resource and what to do. When anything changed, the
// state is written as a new snapshot under the held lock, as the journal
// of an interrupted apply is.
func (e *Engine) adoptIntents(ctx context.Context, lock *statestore.Lock, st *state.State, ps *providerSet) (*state.State, error) {
	if len(st.Intents) == 0 {
		return st, nil
	}
	addrs := make([]string, 0, len(st.Intents))
	for a := range st.Intents {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	out := st.Clone()
	for _, addr := range addrs {
		in := st.Intents[addr]
		key := in.Provider
		if key == "" {
			key = (&state.Resource{Type: in.Type}).ProviderKey()
		}
		res, err := ps.resource(ctx, key, in.Type)
		if err != nil {
			return nil, fmt.Errorf("%s: settle the create an interrupted apply started: %w", addr, err)
		}
		resp, can, err := res.adopt(ctx, providers.AdoptRequest{Addr: addr, Token: in.Token, Planned: in.Planned})
		switch {
		case err != nil:
			return nil, fmt.Errorf("%s: look for the object an interrupted create made (token %s): %w", addr, in.Token, err)
		case !can:
			return nil, fmt.Errorf("%s: an interrupted apply started creating it (token %s) and %s cannot find objects by token: check whether it exists; then `ferry import %s ID`, or `ferry state rm %s` to drop the record of the attempt", addr, in.Token, in.Type, addr, addr)
		case resp.State == nil:
			out.ApplyChange(state.Change{Addr: addr, Resource: st.Resources[addr]}) // nothing was made
			e.emit(Event{Kind: EventRecovered, Addr: addr, Message: fmt.Sprintf("%s: the create an interrupted apply started made nothing (token %s)", addr, in.Token)})
		default:
			rec := &state.Resource{Type: in.Type, Attrs: resp.State, Deps: in.Deps,
				DeclaredAt: in.DeclaredAt, Provider: in.Provider, SchemaVersion: res.Schema().Version}
			if old := st.Resources[addr]; old != nil {
				// A create-before-destroy replacement: the old object
				// still exists and is deleted by the next apply.
				rec.Deposed = old.Attrs
			}
			out.ApplyChange(state.Change{Addr: addr, Resource: rec})
			id, _ := resp.State["id"].(string)
			e.emit(Event{Kind: EventRecovered, Addr: addr, ID: id, Message: fmt.Sprintf("%s: adopted the object an interrupted apply created (token %s)", addr, in.Token)})
		}
	}
	out.Serial++
	out.AppliedPlan = ""
	if err := e.Store.Write(context.WithoutCancel(ctx), lock, out); err != nil {
		return nil, fmt.Errorf("record the objects of interrupted creates: %w", err)
	}
	return out, nil
}
