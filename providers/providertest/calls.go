package providertest

import (
	"context"
	"slices"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// plan calls Plan and checks what every plan must satisfy.
func (h *harness) plan(step string, prior, config map[string]any) providers.PlanResponse {
	h.t.Helper()
	resp, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Prior: clone(prior), Config: clone(config)})
	if err != nil {
		h.t.Fatalf("%s: Plan: %v", step, err)
	}
	for _, a := range h.schema.Attrs {
		if _, ok := resp.Planned[a.Name]; !ok {
			h.t.Errorf("%s: Plan left out attribute %q (plan every attribute, with spec.Unknown when not known yet)", step, a.Name)
		}
	}
	if refs := spec.Refs(resp.Planned); len(refs) > 0 {
		h.t.Errorf("%s: Plan returned references %v; only values and spec.Unknown are allowed", step, refs)
	}
	if !slices.IsSorted(resp.RequiresReplace) {
		h.t.Errorf("%s: RequiresReplace %v is not sorted", step, resp.RequiresReplace)
	}
	for _, name := range resp.RequiresReplace {
		if a, ok := h.schema.Attr(name); !ok || !a.ForceNew {
			h.t.Errorf("%s: RequiresReplace names %q, which is not a ForceNew attribute", step, name)
		}
	}
	for _, a := range h.schema.Attrs {
		cv, set := config[a.Name]
		if a.Computed || !set || spec.HasUnknown(cv) {
			continue
		}
		if diff := cmp.Diff(cv, resp.Planned[a.Name]); diff != "" {
			h.t.Errorf("%s: planned %q differs from its argument (-config +planned):\n%s", step, a.Name, diff)
		}
	}
	return resp
}

// create plans and applies a create of config with a new token, and
// returns the state.
func (h *harness) create(step string, config map[string]any) map[string]any {
	h.t.Helper()
	p := h.plan(step, nil, config)
	return h.apply(step, providers.Create, nil, p.Planned, token())
}

// apply calls Apply for a create or update and checks the new state.
func (h *harness) apply(step string, action providers.Action, prior, planned map[string]any, tok string) map[string]any {
	h.t.Helper()
	resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: action, Prior: clone(prior), Planned: clone(planned), Token: tok})
	if err != nil {
		h.t.Fatalf("%s: Apply(%s): %v", step, action, err)
	}
	st := resp.State
	if st == nil {
		h.t.Fatalf("%s: Apply(%s) returned no state", step, action)
	}
	h.checkState(step, "Apply("+string(action)+")", st, planned)
	return st
}

// checkState checks the state of a call against the schema and the plan
// (nil: no plan), and stops the test when later steps could not use it.
func (h *harness) checkState(step, call string, st, planned map[string]any) {
	h.t.Helper()
	malformed := false
	for _, a := range h.schema.Attrs {
		v, ok := st[a.Name]
		if !ok {
			h.t.Errorf("%s: %s state lacks attribute %q", step, call, a.Name)
			malformed = true
			continue
		}
		if err := checked.JSONValue(v); err != nil {
			h.t.Errorf("%s: %s attribute %q: %v", step, call, a.Name, err)
			malformed = true
			continue
		}
		if pv, ok := planned[a.Name]; ok && !spec.HasUnknown(pv) {
			if diff := cmp.Diff(pv, v); diff != "" {
				h.t.Errorf("%s: %s attribute %q differs from the known planned value (-planned +state):\n%s", step, call, a.Name, diff)
			}
		}
	}
	if malformed {
		// Later steps would feed this state back to the provider.
		h.t.FailNow()
	}
	h.roundTrip(step, st)
}

func (h *harness) read(step string, prior map[string]any) map[string]any {
	h.t.Helper()
	resp, err := h.r.Read(h.ctx, providers.ReadRequest{Addr: h.addr, Prior: clone(prior)})
	if err != nil {
		h.t.Fatalf("%s: Read: %v", step, err)
	}
	return resp.State
}

func (h *harness) delete(step string, prior map[string]any) {
	h.t.Helper()
	h.deleteCtx(h.ctx, step, prior)
}

func (h *harness) deleteCtx(ctx context.Context, step string, prior map[string]any) {
	h.t.Helper()
	resp, err := h.r.Apply(ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Delete, Prior: clone(prior)})
	if err != nil {
		h.t.Fatalf("%s: Apply(delete): %v", step, err)
	}
	if resp.State != nil {
		h.t.Errorf("%s: Apply(delete) returned state %v, want none", step, resp.State)
	}
}

// gone checks, for a type that observes real objects, that the object of
// st no longer exists.
func (h *harness) gone(step string, st map[string]any) {
	h.t.Helper()
	if h.c.External {
		if got := h.read(step, st); got != nil {
			h.t.Errorf("%s: Read returned %v, want nil (the object is gone)", step, got)
		}
	}
}
