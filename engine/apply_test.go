package engine_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

func TestApplyExecutesPlan(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", baseConfig)
	p := e.plan(engine.PlanOptions{})
	res := e.apply(p)
	if got := [3]int{res.Added, res.Changed, res.Destroyed}; got != [3]int{3, 0, 0} {
		t.Errorf("added, changed, destroyed = %v, want [3 0 0]", got)
	}
	st := e.state()
	if st.Serial != 1 || res.Serial != 1 || st.Lineage == "" || st.Deployment != testDeployment {
		t.Errorf("state serial %d (result %d), lineage %q, deployment %q; want serial 1, a lineage and %q", st.Serial, res.Serial, st.Lineage, st.Deployment, testDeployment)
	}
	a, b := st.Resources["null.resource.a"], st.Resources["null.resource.b"]
	if a == nil || b == nil {
		t.Fatalf("state resources %v, want a and b", st.Addrs())
	}
	want := &state.Resource{
		Type:       "null.resource",
		Attrs:      map[string]any{"id": b.Attrs["id"], "triggers": map[string]any{"dep": a.Attrs["id"]}},
		Deps:       []string{"null.resource.a"},
		DeclaredAt: "ferry.star:2:5",
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("null.resource.b in state (-want +got):\n%s", diff)
	}
	if id, _ := a.Attrs["id"].(string); id == "" || id == b.Attrs["id"] {
		t.Errorf("ids of a and b = %v, %v; want two different strings", a.Attrs["id"], b.Attrs["id"])
	}
	data, err := os.ReadFile(filepath.Join(e.dir, "out", "f.txt"))
	if err != nil || string(data) != "hello" {
		t.Errorf("out/f.txt = %q, %v; want %q", data, err, "hello")
	}
	// Outputs are resolved against what apply produced.
	if diff := cmp.Diff(map[string]any{"a_id": a.Attrs["id"]}, res.Outputs); diff != "" {
		t.Errorf("result outputs (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(res.Outputs, st.Outputs); diff != "" {
		t.Errorf("state outputs differ from the result's (-result +state):\n%s", diff)
	}
	if info, err := e.store.LockInfo(t.Context(), testDeployment); err != nil || info != nil {
		t.Errorf("lock after apply: %+v, %v; want released", info, err)
	}
}

func TestApplyOutputs(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(`a = null.resource(name = "a", triggers = {"n": 3})
f = local.file(name = "f", path = "f.txt", content = "hi")
output("list", [a.id, f.content, 1])
output("map", {"file": f.path, "n": a.triggers})
output("plain", "text")
`)
	st := e.state()
	aID := st.Resources["null.resource.a"].Attrs["id"]
	got := fmt.Sprint(st.Outputs)
	want := fmt.Sprint(map[string]any{
		"list":  []any{aID, "hi", 1},
		"map":   map[string]any{"file": "f.txt", "n": map[string]any{"n": 3}},
		"plain": "text",
	})
	if got != want {
		t.Errorf("outputs = %s, want %s", got, want)
	}
}

// TestApplyNoopKeepsSerial applies a plan without changes: no snapshot is
// written and the same plan stays applicable.
func TestApplyNoopKeepsSerial(t *testing.T) {
	e := newEnv(t, memStore)
	cfg := baseConfig + `output("list", [1, "x", {"k": a.triggers}])` + "\n"
	e.planApply(cfg)
	p := e.plan(engine.PlanOptions{})
	if p.HasChanges() {
		t.Fatalf("re-plan has changes: %v", summarize(p))
	}
	e.takeEvents()
	for i := range 2 {
		res := e.apply(p)
		if res.Serial != 1 || res.Added+res.Changed+res.Destroyed != 0 {
			t.Errorf("no-op apply %d: serial %d, %d/%d/%d; want serial 1 and nothing done", i, res.Serial, res.Added, res.Changed, res.Destroyed)
		}
	}
	h, err := e.store.History(t.Context(), testDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 {
		t.Errorf("history has %d snapshots after no-op applies, want 1", len(h))
	}
	if got := eventsOf(e.takeEvents(), engine.EventStateSaved); len(got) != 0 {
		t.Errorf("no-op apply saved state %d times", len(got))
	}
}

func TestApplyRefusesStalePlan(t *testing.T) {
	tests := []struct {
		name string
		// change runs after the plan was made.
		change func(t *testing.T, e *env, p *plan.Plan)
		want   []string
	}{
		{
			name: "someone applied in between",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				// Another plan (here of another configuration, put
				// back afterwards, so that no input changed).
				mine, _ := os.ReadFile(filepath.Join(e.dir, "ferry.star"))
				e.write("ferry.star", strings.Replace(baseConfig, `"hello"`, `"other"`, 1))
				e.apply(e.plan(engine.PlanOptions{}))
				e.write("ferry.star", string(mine))
			},
			want: []string{"plan is stale", "serial 2, planned against 1): another plan was applied after this one was made", "run `ferry plan` again"},
		},
		{
			name: "the same plan applied already",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				e.apply(p)
			},
			want: []string{"this plan was already applied (serial 2); run `ferry plan` for a new one"},
		},
		{
			name: "the same plan applied, then the state moved on",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				e.apply(p)
				if err := e.eng.Taint(t.Context(), testDeployment, "local.file.f", true, 0); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"this plan was already applied (serial 2; the state is at serial 3 now); run `ferry plan` for a new one"},
		},
		{
			name: "a state command changed state",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				if err := e.eng.Taint(t.Context(), testDeployment, "local.file.f", true, 0); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"plan is stale", "serial 2, planned against 1): it was changed by a state command", "run `ferry plan` again"},
		},
		{
			name: "configuration file changed",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				e.write("ferry.star", baseConfig+"# a comment\n")
			},
			want: []string{"plan is stale", "input ferry.star changed since the plan was made", "run `ferry plan` again"},
		},
		{
			name: "configuration file removed",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				if err := os.Remove(filepath.Join(e.dir, "ferry.star")); err != nil {
					t.Fatal(err)
				}
			},
			want: []string{"plan is stale", "input ferry.star is no longer readable", "run `ferry plan` again"},
		},
		{
			name: "plan file's inputs edited",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				p.Inputs.Files["ferry.star"] = strings.Repeat("0", 64)
			},
			want: []string{"plan is stale", "the plan file was edited", "run `ferry plan` again"},
		},
		{
			name: "an apply was interrupted",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				appendJournal(t, e.store, state.Change{Addr: "null.resource.z", Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "1", "triggers": map[string]any{}}}})
			},
			want: []string{"plan is stale", "an apply was interrupted", "run `ferry plan` again"},
		},
		{
			name: "lineage changed",
			change: func(t *testing.T, e *env, p *plan.Plan) {
				p.State.Lineage = state.NewLineage()
			},
			want: []string{"plan is stale", "another project's plan, or the state was replaced", "run `ferry plan` again"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			e.planApply(baseConfig)
			e.write("ferry.star", strings.Replace(baseConfig, `"hello"`, `"bye"`, 1))
			p := e.plan(engine.PlanOptions{})
			before := e.state()
			tt.change(t, e, p)
			mid := e.state()
			_, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir})
			wantErr(t, err, tt.want...)
			if !asStale(err) {
				t.Errorf("error %T is not a *plan.StaleError", err)
			}
			if diff := cmp.Diff(mid, e.state()); diff != "" {
				t.Errorf("a refused plan changed state (-before +after):\n%s", diff)
			}
			if got, _ := os.ReadFile(filepath.Join(e.dir, "out", "f.txt")); string(got) != "hello" && before.Serial == mid.Serial {
				t.Errorf("a refused plan wrote out/f.txt: %q", got)
			}
			if info, err := e.store.LockInfo(t.Context(), testDeployment); err != nil || info != nil {
				t.Errorf("lock after refusal: %+v, %v; want released", info, err)
			}
		})
	}
}

// appendJournal records changes in the deployment's journal as an apply
// that crashed before its final snapshot would have.
func appendJournal(t testing.TB, s *statestore.Store, changes ...state.Change) {
	t.Helper()
	ctx := context.Background()
	lock, err := s.Lock(ctx, testDeployment, engine.NewLockInfo("apply", "test", fixedNow), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(ctx)
	st, _, err := s.Read(ctx, testDeployment)
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.OpenJournal(ctx, lock, st)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range changes {
		if err := j.Append(ctx, []state.Change{c}); err != nil {
			t.Fatal(err)
		}
	}
	closeJournal(j)
}

func TestApplyDeploymentMismatch(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", baseConfig)
	p := e.plan(engine.PlanOptions{})
	_, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir, Deployment: "prod"})
	wantErr(t, err, `the plan is for deployment "test", but this configuration's deployment is "prod"`, "`ferry -d prod plan --out PLAN`")
	if n := len(e.state().Resources); n != 0 {
		t.Errorf("state holds %d resources after a refused apply", n)
	}
}

func TestApplyUnknownType(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", baseConfig)
	p := e.plan(engine.PlanOptions{})
	p.Resource("null.resource.a").Type = "aws.nope"
	_, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir})
	wantErr(t, err, `null.resource.a of type "aws.nope"`, "does not know")
}

// TestApplyPartialFailure makes one file impossible to write: what depends
// on it is skipped, everything else is applied and recorded.
func TestApplyPartialFailure(t *testing.T) {
	e := newEnv(t, memStore)
	writeFile(t, filepath.Join(e.dir, "blocker"), "a regular file, not a folder")
	e.write("ferry.star", `bad = local.file(name = "bad", path = "blocker/x.txt", content = "x")
dep = null.resource(name = "dep", triggers = {"f": bad.id})
depdep = null.resource(name = "depdep", triggers = {"d": dep.id})
ok = null.resource(name = "ok")
ok2 = local.file(name = "ok2", path = "ok2.txt", content = ok.id)
output("ok", ok.id)
`)
	p := e.plan(engine.PlanOptions{})
	res, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir})
	if err != nil {
		t.Fatalf("apply: %v", err)
	}
	var ae *engine.ApplyError
	if !errors.As(res.Err(), &ae) {
		t.Fatalf("result error %v is not an *ApplyError", res.Err())
	}
	if got := sortedKeysOf(res.Failed); !slices.Equal(got, []string{"local.file.bad"}) {
		t.Errorf("failed = %v, want local.file.bad", got)
	}
	wantSkipped := map[string]string{"null.resource.dep": "local.file.bad", "null.resource.depdep": "local.file.bad"}
	if diff := cmp.Diff(wantSkipped, res.Skipped); diff != "" {
		t.Errorf("skipped (-want +got):\n%s", diff)
	}
	wantErr(t, res.Err(), "1 failed, 2 skipped",
		"local.file.bad: ", "blocker",
		"null.resource.dep: skipped because local.file.bad failed",
		"null.resource.depdep: skipped because local.file.bad failed",
		"run `ferry plan` to see the remaining work")
	st := e.state()
	if diff := cmp.Diff([]string{"local.file.ok2", "null.resource.ok"}, st.Addrs()); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
	if res.Added != 2 || st.Serial != 1 || res.Serial != 1 {
		t.Errorf("added %d, serial %d (result %d); want 2 added and serial 1", res.Added, st.Serial, res.Serial)
	}
	// Outputs are not updated by an incomplete apply.
	if len(st.Outputs) != 0 {
		t.Errorf("outputs after an incomplete apply: %v", st.Outputs)
	}
	evs := e.takeEvents()
	if got := eventsOf(evs, engine.EventFailed); !slices.Equal(got, []string{"local.file.bad"}) {
		t.Errorf("failed events %v", got)
	}
	if got := sorted(eventsOf(evs, engine.EventSkipped)); !slices.Equal(got, []string{"null.resource.dep", "null.resource.depdep"}) {
		t.Errorf("skipped events %v", got)
	}
	// The next plan holds only the remaining work.
	if err := os.Remove(filepath.Join(e.dir, "blocker")); err != nil {
		t.Fatal(err)
	}
	p = e.plan(engine.PlanOptions{})
	want := map[string]string{
		"local.file.bad":       "create",
		"null.resource.dep":    "create",
		"null.resource.depdep": "create",
		"null.resource.ok":     "noop",
		"local.file.ok2":       "noop",
	}
	if diff := cmp.Diff(want, summarize(p)); diff != "" {
		t.Errorf("plan after the failure (-want +got):\n%s", diff)
	}
	res = e.apply(p)
	if res.Added != 3 || len(res.Outputs) != 1 {
		t.Errorf("second apply: added %d, outputs %v; want 3 and the output", res.Added, res.Outputs)
	}
}

func sortedKeysOf[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return sorted(out)
}

// TestApplyDurability checks, at the moment each operation is reported
// done, that another reader of the state already sees it, and at the
// moment each operation starts, that its dependencies are recorded.
func TestApplyDurability(t *testing.T) {
	for _, kind := range []storeKind{memStore, fileStore} {
		name := map[storeKind]string{memStore: "mem", fileStore: "file"}[kind]
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, kind)
			e.write("ferry.star", layeredConfig+`
f = local.file(name = "f", path = "f.txt", content = "x")
`)
			cfg := e.load(map[string]string{"n": "60"})
			p, err := e.eng.Plan(t.Context(), cfg, engine.PlanOptions{Deployment: testDeployment})
			if err != nil {
				t.Fatal(err)
			}
			reader := e.otherStore()
			deps := map[string][]string{}
			for _, r := range p.Resources {
				deps[r.Addr] = r.Deps
			}
			var mu sync.Mutex
			var problems []string
			checked := 0
			e.setHook(func(ev engine.Event) {
				if ev.Kind != engine.EventDone && ev.Kind != engine.EventStart {
					return
				}
				st, _, err := reader.Read(context.Background(), testDeployment)
				mu.Lock()
				defer mu.Unlock()
				checked++
				if err != nil {
					problems = append(problems, fmt.Sprintf("read at %s of %s: %v", ev.Kind, ev.Addr, err))
					return
				}
				want := []string{ev.Addr}
				if ev.Kind == engine.EventStart {
					want = deps[ev.Addr]
				}
				for _, a := range want {
					if st.Resources[a] == nil {
						problems = append(problems, fmt.Sprintf("at %s of %s, %s is not in the state others read", ev.Kind, ev.Addr, a))
					}
				}
			})
			res, err := e.eng.Apply(t.Context(), p, engine.ApplyOptions{Dir: e.dir, Parallelism: 8})
			e.setHook(nil)
			if err != nil || res.Err() != nil {
				t.Fatalf("apply: %v %v", err, res.Err())
			}
			for _, p := range problems {
				t.Error(p)
			}
			if checked != 2*61 {
				t.Errorf("checked %d events, want %d", checked, 2*61)
			}
			if n := len(e.state().Resources); n != 61 {
				t.Errorf("state holds %d resources, want 61", n)
			}
		})
	}
}

// TestApplyInterrupted cancels the apply's context while operations run:
// they finish and are recorded, the rest is reported as not started, and
// the lock is released. Cancelling the operations' context as well (a
// second interrupt) stops the running ones.
func TestApplyInterrupted(t *testing.T) {
	tests := []struct {
		name       string
		cancelOps  bool
		wantState  int
		wantFailed int
	}{
		{name: "first interrupt", wantState: 2},
		{name: "second interrupt", cancelOps: true, wantFailed: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, fileStore)
			e.write("ferry.star", sleepConfig)
			dur := "200ms"
			if tt.cancelOps {
				dur = "1m"
			}
			cfg := e.load(map[string]string{"n": "6", "duration": dur})
			p, err := e.eng.Plan(t.Context(), cfg, engine.PlanOptions{Deployment: testDeployment})
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			opCtx, cancelOps := context.WithCancel(t.Context())
			defer cancelOps()
			var mu sync.Mutex
			started := 0
			e.setHook(func(ev engine.Event) {
				if ev.Kind != engine.EventStart {
					return
				}
				mu.Lock()
				defer mu.Unlock()
				if started++; started == 2 {
					cancel()
					if tt.cancelOps {
						cancelOps()
					}
				}
			})
			res, err := e.eng.Apply(ctx, p, engine.ApplyOptions{Dir: e.dir, Parallelism: 2, OpContext: opCtx})
			if err != nil {
				t.Fatalf("apply: %v", err)
			}
			if len(res.Cancelled) != 4 || len(res.Failed) != tt.wantFailed || res.Added != tt.wantState {
				t.Errorf("cancelled %v, failed %v, added %d; want 4 cancelled, %d failed, %d added", res.Cancelled, res.Failed, res.Added, tt.wantFailed, tt.wantState)
			}
			wantErr(t, res.Err(), "4 not started", "not started (interrupted): ")
			for a, err := range res.Failed {
				if !strings.Contains(err.Error(), "interrupted") {
					t.Errorf("%s failed with %v, want an interrupted sleep", a, err)
				}
			}
			if got := len(eventsOf(e.takeEvents(), engine.EventCancelled)); got != 4 {
				t.Errorf("%d cancelled events, want 4", got)
			}
			st := e.state()
			if len(st.Resources) != tt.wantState {
				t.Errorf("state holds %v, want %d resources", st.Addrs(), tt.wantState)
			}
			if info, err := e.store.LockInfo(context.Background(), testDeployment); err != nil || info != nil {
				t.Errorf("lock after interrupted apply: %+v, %v; want released", info, err)
			}
			// The next plan has exactly the rest to do.
			p2, err := e.eng.Plan(context.Background(), cfg, engine.PlanOptions{Deployment: testDeployment})
			if err != nil {
				t.Fatal(err)
			}
			if got := p2.Count(); got.Add != 6-tt.wantState || got.Noop != tt.wantState {
				t.Errorf("next plan counts %+v, want %d to add and %d unchanged", got, 6-tt.wantState, tt.wantState)
			}
		})
	}
}

// TestApplyTargetedDestroyKeepsOutputs destroys one resource: outputs
// that do not refer to it stay, and a full destroy removes them all.
func TestApplyTargetedDestroyKeepsOutputs(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(baseConfig + `output("file", f.path)
output("plain", "text")
`)
	aID := e.state().Resources["null.resource.a"].Attrs["id"]
	e.apply(e.plan(engine.PlanOptions{Destroy: true, Targets: []string{"local.file.f"}}))
	st := e.state()
	if diff := cmp.Diff(map[string]any{"a_id": aID, "plain": "text"}, st.Outputs); diff != "" {
		t.Errorf("outputs after destroying local.file.f (-want +got):\n%s", diff)
	}
	e.apply(e.plan(engine.PlanOptions{Destroy: true}))
	if st := e.state(); len(st.Outputs) != 0 || len(st.Resources) != 0 {
		t.Errorf("after a full destroy: outputs %v, resources %v; want none", st.Outputs, st.Addrs())
	}
}

// TestApplyClosesJournal checks that apply leaves no state file open.
func TestApplyClosesJournal(t *testing.T) {
	if _, err := os.Stat("/proc/self/fd"); err != nil {
		t.Skipf("no /proc/self/fd to list open files: %v", err)
	}
	e := newEnv(t, fileStore)
	for i := range 3 {
		e.planApply(fmt.Sprintf(`null.resource(name = "a", triggers = {"i": %d})`, i))
	}
	fds, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		t.Fatal(err)
	}
	stateDir := filepath.Join(e.dir, ".ferry")
	for _, fd := range fds {
		target, err := os.Readlink(filepath.Join("/proc/self/fd", fd.Name()))
		if err == nil && strings.HasPrefix(target, stateDir) {
			t.Errorf("file descriptor %s is still open on %s", fd.Name(), target)
		}
	}
}

// TestApplyDecodedPlan applies a plan that went through its file format,
// as `ferry plan --out` and `ferry apply FILE` do, and checks that the
// result is settled: planning again finds nothing to do.
func TestApplyDecodedPlan(t *testing.T) {
	e := newEnv(t, fileStore)
	e.write("ferry.star", `a = null.resource(name = "a", triggers = {"n": 3, "f": 1.5, "l": [1, "x", True, None], "m": {"k": "v"}})
b = null.resource(name = "b", triggers = {"a": a.id, "t": a.triggers})
f = local.file(name = "f", path = "sub/f.txt", content = b.id, mode = "600")
s = time.sleep(name = "s", duration = "1ms", triggers = {"f": f.id})
output("all", {"a": a.id, "f": f.path, "n": 7})
`)
	p := e.plan(engine.PlanOptions{})
	data, err := plan.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := plan.Decode("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	res := e.apply(decoded)
	if res.Added != 4 {
		t.Errorf("added %d, want 4", res.Added)
	}
	st := e.state()
	bID := st.Resources["null.resource.b"].Attrs["id"]
	if got, err := os.ReadFile(filepath.Join(e.dir, "sub", "f.txt")); err != nil || string(got) != bID {
		t.Errorf("sub/f.txt = %q, %v; want b's id %v", got, err, bID)
	}
	if info, err := os.Stat(filepath.Join(e.dir, "sub", "f.txt")); err != nil || info.Mode().Perm() != 0o600 {
		t.Errorf("sub/f.txt mode: %v, %v; want 0600", info, err)
	}
	again := e.plan(engine.PlanOptions{})
	for addr, s := range summarize(again) {
		if s != "noop" {
			t.Errorf("after applying the decoded plan, %s: %s, want noop", addr, s)
		}
	}
	if res := e.apply(again); res.Serial != 1 {
		t.Errorf("no-op apply moved the serial to %d", res.Serial)
	}
}
