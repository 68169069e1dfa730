package providertest

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// sensitive: the value of a sensitive attribute appears in no error
// message, whichever call fails: a plan given it with the wrong kind, a
// plan that lacks a required argument, a failing create, an update of an
// object that is gone. (The runtime checker, between the suite and the
// provider, turns such a message into a fault: either way the suite
// fails.)
func sensitive(t *testing.T, c Case) {
	h := newHarness(t, c)
	markers := map[string]string{}
	secretArgs := map[string]any{}
	for _, name := range h.schema.Sensitive() {
		a, _ := h.schema.Attr(name)
		if a.Computed && !a.Optional {
			continue // the provider's to fill; nothing to pass
		}
		markers[name] = "ferry-conformance-secret-" + name + "-" + token()[len("ferry-conformance-"):]
		if a.Kind == spec.KindString || a.Kind == spec.KindAny {
			secretArgs[name] = markers[name]
		}
	}
	if len(markers) == 0 {
		return
	}
	// check fails the test when err shows a secret, or the checker saw it.
	check := func(step string, err error) {
		t.Helper()
		if err == nil {
			return
		}
		h.noFault(step, err)
		for name, m := range markers {
			if strings.Contains(err.Error(), m) {
				t.Errorf("%s: error shows the value of sensitive attribute %q: %v", step, name, err)
			}
		}
	}

	cfg := Config(h.schema, c.Create, secretArgs)
	for name, m := range markers {
		a, _ := h.schema.Attr(name)
		wrong := map[string]any{name: wrongKind(a.Kind, m)}
		_, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Config: Config(h.schema, cfg, wrong)})
		check(fmt.Sprintf("plan with %q of the wrong kind", name), err)
	}
	for _, a := range h.schema.Attrs {
		if a.Required && !a.Sensitive {
			without := clone(cfg)
			delete(without, a.Name)
			_, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Config: without})
			check(fmt.Sprintf("plan without %q", a.Name), err)
		}
	}
	if c.Fail != nil {
		p := h.plan("failing create", nil, Config(h.schema, cfg, c.Fail))
		resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: p.Planned, Token: token()})
		check("failing create", err)
		if resp.State != nil {
			h.delete("cleanup", resp.State)
		}
	}
	st := h.create("create", cfg)
	if c.External {
		h.delete("delete", st)
		_, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Update, Prior: clone(st), Planned: clone(st)})
		check("update of an object that is gone", err)
	} else {
		h.delete("cleanup", st)
	}
}

// wrongKind is v dressed as a value that is not of kind k, so that a
// provider which shows what it rejects shows v.
func wrongKind(k spec.Kind, v string) any {
	switch k {
	case spec.KindList:
		return map[string]any{"v": v}
	default:
		return []any{v}
	}
}
