package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// verifyPlan checks the plan's signature with the deployment's plan key:
// a plan edited after `ferry plan` wrote it, or signed for another state
// store, is refused.
func (e *Engine) verifyPlan(ctx context.Context, p *plan.Plan) error {
	key, ok, err := e.Store.ReadPlanKey(ctx, p.Deployment)
	if err != nil {
		return err
	}
	if !ok {
		return &plan.StaleError{What: fmt.Sprintf("deployment %q in %s has no plan key, so this plan cannot have been made against it (was it made with another --state?)", p.Deployment, e.Store.URL())}
	}
	switch err := plan.Verify(p, key); {
	case errors.Is(err, plan.ErrUnsigned):
		return &plan.StaleError{What: "the plan is not signed (only plans written by `ferry plan` are applied)"}
	case err != nil:
		return &plan.StaleError{What: fmt.Sprintf("%v: the plan file was edited after `ferry plan` wrote it, or it was made against another state store than %s", err, e.Store.URL())}
	}
	return nil
}

// InconsistentError is apply's refusal of a resource whose plan, made
// again with the values learned during apply, is not the reviewed one
// (OpenTofu's "inconsistent final plan").
type InconsistentError struct {
	Addr string
	// Attr is the attribute path that changed ("" for the action).
	Attr          string
	Reviewed, Now string
}

func (e *InconsistentError) Error() string {
	what := "attribute " + e.Attr
	if e.Attr == "" {
		what = "the action"
	}
	return fmt.Sprintf("%s was %s in the reviewed plan but is now %s: the plan is no longer valid: run `ferry plan`", what, e.Reviewed, e.Now)
}

// checkFinalPlan compares the provider's plan at apply with the reviewed
// one: every attribute that was known at plan time must be unchanged, and
// an update must not have turned into a replacement. Values that were
// unknown ("known after apply") may be anything.
func checkFinalPlan(r *plan.Resource, now providers.PlanResponse) error {
	if r.Action == plan.Update && len(now.RequiresReplace) > 0 {
		return &InconsistentError{Addr: r.Addr, Reviewed: "update in place", Now: "replace (because of " + fmt.Sprint(now.RequiresReplace) + ")"}
	}
	return compareKnown(r.Addr, "", r.After, now.Planned)
}

// compareKnown walks the reviewed value and fails at the first known
// leaf that differs from now.
func compareKnown(addr, path string, reviewed, now any) error {
	if _, unknown := reviewed.(spec.Unknown); unknown {
		return nil
	}
	if _, unknown := now.(spec.Unknown); unknown {
		return &InconsistentError{Addr: addr, Attr: orRoot(path), Reviewed: spec.Render(reviewed), Now: "(known after apply)"}
	}
	switch rv := reviewed.(type) {
	case map[string]any:
		nv, ok := now.(map[string]any)
		if !ok {
			break
		}
		keys := map[string]bool{}
		for k := range rv {
			keys[k] = true
		}
		for k := range nv {
			keys[k] = true
		}
		names := make([]string, 0, len(keys))
		for k := range keys {
			names = append(names, k)
		}
		sort.Strings(names)
		for _, k := range names {
			r, rok := rv[k]
			n, nok := nv[k]
			sub := joinPath(path, k)
			switch {
			case !rok:
				return &InconsistentError{Addr: addr, Attr: sub, Reviewed: "(absent)", Now: spec.Render(n)}
			case !nok:
				if _, unknown := r.(spec.Unknown); unknown {
					continue
				}
				return &InconsistentError{Addr: addr, Attr: sub, Reviewed: spec.Render(r), Now: "(absent)"}
			}
			if err := compareKnown(addr, sub, r, n); err != nil {
				return err
			}
		}
		return nil
	case []any:
		nv, ok := now.([]any)
		if !ok || len(nv) != len(rv) {
			break
		}
		for i := range rv {
			if err := compareKnown(addr, fmt.Sprintf("%s[%d]", path, i), rv[i], nv[i]); err != nil {
				return err
			}
		}
		return nil
	}
	if !reflect.DeepEqual(reviewed, now) {
		return &InconsistentError{Addr: addr, Attr: orRoot(path), Reviewed: spec.Render(reviewed), Now: spec.Render(now)}
	}
	return nil
}

func joinPath(path, k string) string {
	if path == "" {
		return k
	}
	return path + "." + k
}

func orRoot(path string) string {
	if path == "" {
		return "(all attributes)"
	}
	return path
}

// stateMoved explains why a plan made against an older serial is refused,
// from the snapshot that followed it: this very plan's apply wrote it
// (the plan was applied already), another plan's apply did, or a state
// command, an import or a recovery did.
func (e *Engine) stateMoved(ctx context.Context, p *plan.Plan, now uint64) error {
	moved := fmt.Sprintf("the state changed since the plan (serial %d, planned against %d)", now, p.State.Serial)
	if now < p.State.Serial {
		return &plan.StaleError{What: moved + ": the state was rolled back or replaced"}
	}
	next, err := e.Store.ReadSerial(ctx, p.Deployment, p.State.Serial+1)
	switch {
	case err != nil:
		return &plan.StaleError{What: moved}
	case next.AppliedPlan != "" && next.AppliedPlan == p.ID():
		what := fmt.Sprintf("this plan was already applied (serial %d)", next.Serial)
		if now != next.Serial {
			what = fmt.Sprintf("this plan was already applied (serial %d; the state is at serial %d now)", next.Serial, now)
		}
		return &plan.StaleError{What: what, Applied: true}
	case next.AppliedPlan != "":
		return &plan.StaleError{What: moved + ": another plan was applied after this one was made"}
	}
	return &plan.StaleError{What: moved + ": it was changed by a state command, an import or the recovery of an interrupted apply"}
}
