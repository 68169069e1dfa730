package engine_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"gocloud.dev/blob/memblob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/providers"
)

// fakeCloud is a provider of "fake.thing" objects kept in a map, as a cloud
// keeps them, so that tests can change or delete them behind ferry's back.
// It records every Apply it receives: the contract tests check what the
// engine asks for, not only what ends up in state.
//
// A thing has a configured "value", a force-new "zone", an optional
// "input", and computed "id" and "out" ("out-" + value, predicted at plan
// time unless misbehave says the provider returns something else).
type fakeCloud struct {
	mu      sync.Mutex
	objects map[string]map[string]any // by id
	created map[string]int            // creations per address
	applies []fakeApply
	// misbehave makes Apply of these addresses return an "out" other than
	// the one Plan predicted (a provider that breaks its own plan).
	misbehave map[string]bool
}

type fakeApply struct {
	Addr   string
	Action providers.Action
	Prior  map[string]any
}

func newFakeCloud() *fakeCloud {
	return &fakeCloud{objects: map[string]map[string]any{}, created: map[string]int{}, misbehave: map[string]bool{}}
}

func (f *fakeCloud) Schema() spec.Schema {
	return spec.Schema{Type: "fake.thing", Attrs: []spec.Attr{
		{Name: "value", Kind: spec.KindString, Required: true},
		{Name: "zone", Kind: spec.KindString, Optional: true, Default: "a", ForceNew: true},
		{Name: "input", Kind: spec.KindString, Optional: true, Default: ""},
		{Name: "id", Kind: spec.KindString, Computed: true},
		{Name: "out", Kind: spec.KindString, Computed: true},
	}}
}

func (f *fakeCloud) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	planned := map[string]any{"value": req.Config["value"], "zone": req.Config["zone"], "input": req.Config["input"]}
	if v, ok := req.Config["value"].(string); ok {
		planned["out"] = "out-" + v
	} else {
		planned["out"] = spec.Unknown{Source: req.Addr + ".out"}
	}
	planned["id"] = spec.Unknown{Source: req.Addr + ".id"}
	var replace []string
	if req.Prior != nil {
		planned["id"] = req.Prior["id"]
		// Like some real providers, it cannot tell whether an unknown
		// zone will differ, and plans an update.
		_, unknownZone := req.Config["zone"].(spec.Unknown)
		if !unknownZone && !reflect.DeepEqual(req.Prior["zone"], req.Config["zone"]) {
			replace = []string{"zone"}
			planned["id"] = spec.Unknown{Source: req.Addr + ".id"}
		}
	}
	return providers.PlanResponse{Planned: planned, RequiresReplace: replace}, nil
}

func (f *fakeCloud) Apply(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.applies = append(f.applies, fakeApply{Addr: req.Addr, Action: req.Action, Prior: req.Prior})
	switch req.Action {
	case providers.Delete:
		delete(f.objects, req.Prior["id"].(string))
		return providers.ApplyResponse{}, nil
	case providers.Create:
		// Ids are "NAME-N" for the Nth creation of that address: tests
		// do not depend on the order of independent creations.
		f.created[req.Addr]++
		obj := clone(req.Planned)
		obj["id"] = fmt.Sprintf("%s-%d", strings.TrimPrefix(req.Addr, "fake.thing."), f.created[req.Addr])
		if f.misbehave[req.Addr] {
			obj["out"] = "surprise"
		}
		f.objects[obj["id"].(string)] = obj
		return providers.ApplyResponse{State: clone(obj)}, nil
	default:
		id := req.Prior["id"].(string)
		if _, ok := f.objects[id]; !ok {
			return providers.ApplyResponse{}, fmt.Errorf("update %s: object %s does not exist", req.Addr, id)
		}
		obj := clone(req.Planned)
		obj["id"] = id
		if f.misbehave[req.Addr] {
			obj["out"] = "surprise"
		}
		f.objects[id] = obj
		return providers.ApplyResponse{State: clone(obj)}, nil
	}
}

func (f *fakeCloud) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.objects[req.Prior["id"].(string)]
	if !ok {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: clone(obj)}, nil
}

// edit changes the object behind addr's state record, outside ferry.
func (f *fakeCloud) edit(t *testing.T, id string, fn func(obj map[string]any)) {
	t.Helper()
	f.mu.Lock()
	defer f.mu.Unlock()
	obj, ok := f.objects[id]
	if !ok {
		t.Fatalf("no object %s", id)
	}
	fn(obj)
}

func (f *fakeCloud) takeApplies() []fakeApply {
	f.mu.Lock()
	defer f.mu.Unlock()
	out := f.applies
	f.applies = nil
	// Independent resources apply in any order; one address's calls keep
	// theirs (a replacement's delete before its create).
	sort.SliceStable(out, func(i, j int) bool { return out[i].Addr < out[j].Addr })
	return out
}

func clone(m map[string]any) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

// thing declares a fake.thing; input may be a string or a spec.Ref.
func thing(name, value, zone string, input any) *spec.Resource {
	if input == nil {
		input = ""
	}
	return &spec.Resource{Addr: "fake.thing." + name, Type: "fake.thing", Name: name,
		Args: map[string]any{"value": value, "zone": zone, "input": input}, Pos: spec.Pos{File: "ferry.star", Line: 1, Col: 1}}
}

func ref(name, attr string) spec.Ref { return spec.Ref{Addr: "fake.thing." + name, Attr: attr} }

type contractEnv struct {
	t     *testing.T
	dir   string
	cloud *fakeCloud
	eng   *engine.Engine
}

func newContractEnv(t *testing.T) *contractEnv {
	bkt := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bkt.Close() })
	cloud := newFakeCloud()
	reg, err := providers.NewRegistry(&providers.Static{Namespace: "fake", Types: []providers.Resource{cloud}})
	if err != nil {
		t.Fatal(err)
	}
	return &contractEnv{t: t, dir: t.TempDir(), cloud: cloud,
		eng: &engine.Engine{Providers: reg, Store: statestore.OpenBucket(bkt, "mem://"), Version: "test"}}
}

func (c *contractEnv) plan(rs ...*spec.Resource) *plan.Plan {
	c.t.Helper()
	p, err := c.eng.Plan(context.Background(), &spec.Config{Dir: c.dir, Resources: rs}, engine.PlanOptions{Deployment: testDeployment})
	if err != nil {
		c.t.Fatalf("plan: %v", err)
	}
	return p
}

func (c *contractEnv) apply(p *plan.Plan) *engine.ApplyResult {
	c.t.Helper()
	res, err := c.eng.Apply(context.Background(), p, engine.ApplyOptions{Dir: c.dir})
	if err != nil {
		c.t.Fatalf("apply: %v", err)
	}
	return res
}

// idOf returns the id recorded in state for addr.
func (c *contractEnv) idOf(addr string) string {
	c.t.Helper()
	st, _, err := c.eng.Store.Read(context.Background(), testDeployment)
	if err != nil {
		c.t.Fatal(err)
	}
	rec := st.Resources[addr]
	if rec == nil {
		c.t.Fatalf("%s not in state", addr)
	}
	return rec.Attrs["id"].(string)
}

// TestApplyFollowsThePlan checks that apply takes each resource's action
// and prior from the plan (the refreshed "before"), not from the state it
// reads at apply, and that a provider plan that no longer matches the
// reviewed one stops that resource and its dependents only.
func TestApplyFollowsThePlan(t *testing.T) {
	tests := []struct {
		name string
		// first is applied to set the scene; then drift runs; then
		// second is planned and applied.
		first  []*spec.Resource
		drift  func(t *testing.T, c *contractEnv)
		second []*spec.Resource
		// setup runs after the second plan, before its apply.
		setup       func(c *contractEnv)
		wantActions map[string]plan.Action
		wantApplies func(c *contractEnv) []fakeApply
		wantFailed  map[string]string // address -> error substring
		wantSkipped []string
	}{
		{
			name:  "drift-deleted",
			first: []*spec.Resource{thing("a", "v1", "a", nil)},
			drift: func(t *testing.T, c *contractEnv) {
				c.cloud.mu.Lock()
				delete(c.cloud.objects, c.idOf("fake.thing.a"))
				c.cloud.mu.Unlock()
			},
			second:      []*spec.Resource{thing("a", "v1", "a", nil)},
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Create},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{{Addr: "fake.thing.a", Action: providers.Create}}
			},
		},
		{
			name:  "drift-changed",
			first: []*spec.Resource{thing("a", "v1", "a", nil)},
			drift: func(t *testing.T, c *contractEnv) {
				c.cloud.edit(t, c.idOf("fake.thing.a"), func(o map[string]any) { o["value"] = "changed-outside" })
			},
			second:      []*spec.Resource{thing("a", "v1", "a", nil)},
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Update},
			wantApplies: func(*contractEnv) []fakeApply {
				// The prior is the refreshed object, not the stale state.
				return []fakeApply{{Addr: "fake.thing.a", Action: providers.Update, Prior: map[string]any{
					"id": "a-1", "value": "changed-outside", "zone": "a", "input": "", "out": "out-v1"}}}
			},
		},
		{
			name:   "unknown-resolved",
			second: []*spec.Resource{thing("a", "v1", "a", nil), thing("b", "v1", "a", ref("a", "id"))},
			wantActions: map[string]plan.Action{
				"fake.thing.a": plan.Create, "fake.thing.b": plan.Create,
			},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{{Addr: "fake.thing.a", Action: providers.Create}, {Addr: "fake.thing.b", Action: providers.Create}}
			},
		},
		{
			name:   "known-resolved-equal",
			first:  []*spec.Resource{thing("a", "v1", "a", nil), thing("b", "v1", "a", ref("a", "out"))},
			second: []*spec.Resource{thing("a", "v2", "a", nil), thing("b", "v1", "a", ref("a", "out"))},
			wantActions: map[string]plan.Action{
				"fake.thing.a": plan.Update, "fake.thing.b": plan.Update,
			},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{
					{Addr: "fake.thing.a", Action: providers.Update, Prior: map[string]any{"id": "a-1", "value": "v1", "zone": "a", "input": "", "out": "out-v1"}},
					{Addr: "fake.thing.b", Action: providers.Update, Prior: map[string]any{"id": "b-1", "value": "v1", "zone": "a", "input": "out-v1", "out": "out-v1"}},
				}
			},
		},
		{
			name: "known-resolved-different",
			first: []*spec.Resource{thing("a", "v1", "a", nil), thing("b", "v1", "a", ref("a", "out")),
				thing("c", "v1", "a", ref("b", "id")), thing("d", "v1", "a", nil)},
			second: []*spec.Resource{thing("a", "v2", "a", nil), thing("b", "v1", "a", ref("a", "out")),
				thing("c", "v2", "a", ref("b", "out")), thing("d", "v2", "a", nil)},
			setup: func(c *contractEnv) { c.cloud.misbehave["fake.thing.a"] = true },
			wantActions: map[string]plan.Action{
				"fake.thing.a": plan.Update, "fake.thing.b": plan.Update, "fake.thing.c": plan.Update, "fake.thing.d": plan.Update,
			},
			wantApplies: func(*contractEnv) []fakeApply {
				// b is refused before the provider is asked to change it; c
				// (after b) is skipped; d, independent, goes on.
				return []fakeApply{
					{Addr: "fake.thing.a", Action: providers.Update, Prior: map[string]any{"id": "a-1", "value": "v1", "zone": "a", "input": "", "out": "out-v1"}},
					{Addr: "fake.thing.d", Action: providers.Update, Prior: map[string]any{"id": "d-1", "value": "v1", "zone": "a", "input": "", "out": "out-v1"}},
				}
			},
			wantFailed:  map[string]string{"fake.thing.b": `attribute input was "out-v2" in the reviewed plan but is now "surprise": the plan is no longer valid: run ` + "`ferry plan`"},
			wantSkipped: []string{"fake.thing.c"},
		},
		{
			name:  "replace",
			first: []*spec.Resource{thing("a", "v1", "a", nil)},
			drift: func(t *testing.T, c *contractEnv) {
				c.cloud.edit(t, "a-1", func(o map[string]any) { o["value"] = "drifted" })
			},
			second:      []*spec.Resource{thing("a", "v1", "b", nil)},
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Replace},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{
					{Addr: "fake.thing.a", Action: providers.Delete, Prior: map[string]any{"id": "a-1", "value": "drifted", "zone": "a", "input": "", "out": "out-v1"}},
					{Addr: "fake.thing.a", Action: providers.Create},
				}
			},
		},
		{
			name:  "delete-drifted",
			first: []*spec.Resource{thing("a", "v1", "a", nil)},
			drift: func(t *testing.T, c *contractEnv) {
				c.cloud.edit(t, "a-1", func(o map[string]any) { o["value"] = "drifted" })
			},
			second:      nil,
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Delete},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{{Addr: "fake.thing.a", Action: providers.Delete, Prior: map[string]any{"id": "a-1", "value": "drifted", "zone": "a", "input": "", "out": "out-v1"}}}
			},
		},
		{
			name:   "update-became-replace",
			first:  []*spec.Resource{thing("b", "v1", "z", nil)},
			second: []*spec.Resource{thing("a", "v1", "a", nil), {Addr: "fake.thing.b", Type: "fake.thing", Name: "b", Args: map[string]any{"value": "v1", "zone": ref("a", "id"), "input": ""}}},
			// b's zone is unknown at plan time: the provider plans an
			// update; at apply the zone differs and it asks to replace.
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Create, "fake.thing.b": plan.Update},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{{Addr: "fake.thing.a", Action: providers.Create}}
			},
			wantFailed: map[string]string{"fake.thing.b": "the action was update in place in the reviewed plan but is now replace (because of [zone])"},
		},
		{
			name:   "replace-resolved-different",
			first:  []*spec.Resource{thing("a", "v1", "a", nil), thing("b", "v1", "out-v1", nil)},
			second: []*spec.Resource{thing("a", "v2", "a", nil), {Addr: "fake.thing.b", Type: "fake.thing", Name: "b", Args: map[string]any{"value": "v2", "zone": ref("a", "out"), "input": ""}}},
			setup:  func(c *contractEnv) { c.cloud.misbehave["fake.thing.a"] = true },
			// b's zone comes from a.out, predicted "out-v2": the plan
			// replaces b; at apply a.out is "surprise".
			wantActions: map[string]plan.Action{"fake.thing.a": plan.Update, "fake.thing.b": plan.Replace},
			wantApplies: func(*contractEnv) []fakeApply {
				return []fakeApply{
					// b is refused before its old object is deleted.
					{Addr: "fake.thing.a", Action: providers.Update, Prior: map[string]any{"id": "a-1", "value": "v1", "zone": "a", "input": "", "out": "out-v1"}},
				}
			},
			wantFailed: map[string]string{"fake.thing.b": `attribute zone was "out-v2" in the reviewed plan but is now "surprise"`},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := newContractEnv(t)
			if tt.first != nil {
				if res := c.apply(c.plan(tt.first...)); res.Err() != nil {
					t.Fatalf("first apply: %v", res.Err())
				}
			}
			if tt.drift != nil {
				tt.drift(t, c)
			}
			c.cloud.takeApplies()
			p := c.plan(tt.second...)
			got := map[string]plan.Action{}
			for _, r := range p.Resources {
				got[r.Addr] = r.Action
			}
			if diff := cmp.Diff(tt.wantActions, got); diff != "" {
				t.Fatalf("planned actions (-want +got):\n%s", diff)
			}
			if tt.setup != nil {
				tt.setup(c)
			}
			res := c.apply(p)
			if diff := cmp.Diff(tt.wantApplies(c), c.cloud.takeApplies()); diff != "" {
				t.Errorf("provider applies (-want +got):\n%s", diff)
			}
			failed := map[string]string{}
			for a, err := range res.Failed {
				failed[a] = err.Error()
			}
			for a, want := range tt.wantFailed {
				if !strings.Contains(failed[a], want) {
					t.Errorf("%s failed with %q, want it to contain %q", a, failed[a], want)
				}
				var ie *engine.InconsistentError
				if !errors.As(res.Failed[a], &ie) {
					t.Errorf("%s: error %T is not an *engine.InconsistentError", a, res.Failed[a])
				}
				delete(failed, a)
			}
			if len(failed) > 0 {
				t.Errorf("unexpected failures: %v", failed)
			}
			var skipped []string
			for a := range res.Skipped {
				skipped = append(skipped, a)
			}
			if diff := cmp.Diff(tt.wantSkipped, skipped); diff != "" {
				t.Errorf("skipped (-want +got):\n%s", diff)
			}
		})
	}
}
