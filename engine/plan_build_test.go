package engine_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

// baseConfig declares a dependency (b refers to a's id) and a file.
const baseConfig = `a = null.resource(name = "a", triggers = {"v": "1"})
b = null.resource(name = "b", triggers = {"dep": a.id})
f = local.file(name = "f", path = "out/f.txt", content = "hello")
output("a_id", a.id)
`

// summarize renders each planned resource as "action", with the reason in
// parentheses and what forces a replacement after "because".
func summarize(p *plan.Plan) map[string]string {
	out := map[string]string{}
	for _, r := range p.Resources {
		s := string(r.Action)
		if r.Reason != "" {
			s += " (" + r.Reason + ")"
		}
		if len(r.ReplaceBecause) > 0 {
			s += " because " + strings.Join(r.ReplaceBecause, ", ")
		}
		out[r.Addr] = s
	}
	return out
}

func TestPlanActions(t *testing.T) {
	tests := []struct {
		name    string
		applied string // configuration applied first; "" for empty state
		config  string // configuration planned
		opts    engine.PlanOptions
		mutate  func(t *testing.T, dir string) // after the first apply
		want    map[string]string
	}{
		{
			name:   "create from empty state",
			config: baseConfig,
			want: map[string]string{
				"null.resource.a": "create",
				"null.resource.b": "create",
				"local.file.f":    "create",
			},
		},
		{
			name:    "no changes",
			applied: baseConfig,
			config:  baseConfig,
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "noop",
			},
		},
		{
			name:    "update of a file's content",
			applied: baseConfig,
			config:  strings.Replace(baseConfig, `"hello"`, `"bye"`, 1),
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "update",
			},
		},
		{
			name:    "replace on changed triggers, and of what refers to the new id",
			applied: baseConfig,
			config:  strings.Replace(baseConfig, `{"v": "1"}`, `{"v": "2"}`, 1),
			want: map[string]string{
				"null.resource.a": "replace because triggers",
				"null.resource.b": "replace because triggers",
				"local.file.f":    "noop",
			},
		},
		{
			name:    "delete of a resource removed from the configuration",
			applied: baseConfig,
			config:  strings.Replace(baseConfig, `f = local.file(name = "f", path = "out/f.txt", content = "hello")`, "", 1),
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "delete (not in configuration)",
			},
		},
		{
			name:    "destroy",
			applied: baseConfig,
			config:  baseConfig,
			opts:    engine.PlanOptions{Destroy: true},
			want: map[string]string{
				"null.resource.a": "delete",
				"null.resource.b": "delete",
				"local.file.f":    "delete",
			},
		},
		{
			name:    "destroy a target takes what depends on it along",
			applied: baseConfig,
			config:  baseConfig,
			opts:    engine.PlanOptions{Destroy: true, Targets: []string{"null.resource.a"}},
			want: map[string]string{
				"null.resource.a": "delete",
				"null.resource.b": "delete",
			},
		},
		{
			name:   "target includes its dependencies only",
			config: baseConfig,
			opts:   engine.PlanOptions{Targets: []string{"null.resource.b"}},
			want: map[string]string{
				"null.resource.a": "create",
				"null.resource.b": "create",
			},
		},
		{
			name:    "target a resource that is only in state",
			applied: baseConfig,
			config:  strings.Replace(baseConfig, `f = local.file(name = "f", path = "out/f.txt", content = "hello")`, "", 1),
			opts:    engine.PlanOptions{Targets: []string{"local.file.f"}},
			want: map[string]string{
				"local.file.f": "delete (not in configuration)",
			},
		},
		{
			name:    "replace requested",
			applied: baseConfig,
			config:  baseConfig,
			opts:    engine.PlanOptions{Replace: []string{"null.resource.a"}},
			want: map[string]string{
				"null.resource.a": "replace (requested with --replace)",
				"null.resource.b": "replace because triggers",
				"local.file.f":    "noop",
			},
		},
		{
			name:    "drift: file changed on disk",
			applied: baseConfig,
			config:  baseConfig,
			mutate: func(t *testing.T, dir string) {
				writeFile(t, filepath.Join(dir, "out", "f.txt"), "edited by hand")
			},
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "update (drift: changed outside ferry)",
			},
		},
		{
			name:    "drift: file deleted on disk",
			applied: baseConfig,
			config:  baseConfig,
			mutate: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "out", "f.txt")); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "create (drift: deleted outside ferry)",
			},
		},
		{
			name:    "drift is not looked for without refresh",
			applied: baseConfig,
			config:  baseConfig,
			opts:    engine.PlanOptions{NoRefresh: true},
			mutate: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "out", "f.txt")); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]string{
				"null.resource.a": "noop",
				"null.resource.b": "noop",
				"local.file.f":    "noop",
			},
		},
		{
			name:    "destroy leaves out what is already gone",
			applied: baseConfig,
			config:  baseConfig,
			opts:    engine.PlanOptions{Destroy: true},
			mutate: func(t *testing.T, dir string) {
				if err := os.Remove(filepath.Join(dir, "out", "f.txt")); err != nil {
					t.Fatal(err)
				}
			},
			want: map[string]string{
				"null.resource.a": "delete",
				"null.resource.b": "delete",
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			if tt.applied != "" {
				e.planApply(tt.applied)
			}
			if tt.mutate != nil {
				tt.mutate(t, e.dir)
			}
			e.write("ferry.star", tt.config)
			p := e.plan(tt.opts)
			if diff := cmp.Diff(tt.want, summarize(p)); diff != "" {
				t.Errorf("plan (-want +got):\n%s", diff)
			}
			wantChanges := false
			for _, s := range tt.want {
				if !strings.HasPrefix(s, "noop") {
					wantChanges = true
				}
			}
			if got := p.HasChanges(); got != wantChanges {
				t.Errorf("HasChanges() = %v, want %v", got, wantChanges)
			}
		})
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestPlanCreateDetails checks what a create carries: planned values with
// unknowns, the arguments with references for apply, direct dependencies,
// positions, the state it was planned against and the inputs.
func TestPlanCreateDetails(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", baseConfig)
	p := e.plan(engine.PlanOptions{})

	b := p.Resource("null.resource.b")
	want := &plan.Resource{
		Addr:   "null.resource.b",
		Type:   "null.resource",
		Action: plan.Create,
		After: map[string]any{
			"id":       spec.Unknown{Source: "null.resource.b.id"},
			"triggers": map[string]any{"dep": spec.Unknown{Source: "null.resource.a.id"}},
		},
		Args:       map[string]any{"triggers": map[string]any{"dep": spec.Ref{Addr: "null.resource.a", Attr: "id"}}},
		Deps:       []string{"null.resource.a"},
		DeclaredAt: "ferry.star:2:5",
	}
	if diff := cmp.Diff(want, b); diff != "" {
		t.Errorf("null.resource.b (-want +got):\n%s", diff)
	}
	if got := p.Resource("local.file.f").After["id"]; got != "2cf24dba5fb0a30e26e83b2ac5b9e29e1b161e5c1fa7425e73043362938b9824" {
		t.Errorf("local.file.f id = %v, want the sha256 of its content (known at plan time)", got)
	}
	if p.Deployment != testDeployment || p.FerryVersion != "test" || !p.CreatedAt.Equal(fixedNow) {
		t.Errorf("plan header = %q %q %v, want %q %q %v", p.Deployment, p.FerryVersion, p.CreatedAt, testDeployment, "test", fixedNow)
	}
	if diff := cmp.Diff(plan.StateRef{}, p.State); diff != "" {
		t.Errorf("planned against (-want +got):\n%s", diff)
	}
	if _, ok := p.Inputs.Files["ferry.star"]; !ok || !strings.HasPrefix(p.Inputs.Digest, "sha256:") {
		t.Errorf("inputs = %+v, want ferry.star and a sha256 digest", p.Inputs)
	}
	wantOut := []*plan.Output{{Name: "a_id", Value: spec.Ref{Addr: "null.resource.a", Attr: "id"}, DeclaredAt: "ferry.star:4:1"}}
	if diff := cmp.Diff(wantOut, p.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}
	if got := p.Count(); got != (plan.Counts{Add: 3}) {
		t.Errorf("Count() = %+v, want 3 to add", got)
	}
}

// TestPlanVarsAreHashed checks that var values reach the plan only as
// hashes and take part in the input digest.
func TestPlanVarsAreHashed(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", `null.resource(name = "a", triggers = {"s": var("secret")})`)
	digest := func(v string) plan.Inputs {
		cfg := e.load(map[string]string{"secret": v})
		p, err := e.eng.BuildPlan(t.Context(), cfg, emptyState(), engine.PlanOptions{Deployment: testDeployment})
		if err != nil {
			t.Fatal(err)
		}
		return p.Inputs
	}
	in1, in2 := digest("hunter2"), digest("hunter3")
	if got := in1.Vars["secret"]; got == "" || strings.Contains(got, "hunter2") {
		t.Errorf("var secret recorded as %q, want a hash of the value", got)
	}
	if in1.Digest == in2.Digest {
		t.Errorf("input digest %s did not change with the var's value", in1.Digest)
	}
}

func TestPlanUpdateBeforeAfter(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(baseConfig)
	e.write("ferry.star", strings.Replace(baseConfig, `"hello"`, `"bye"`, 1))
	p := e.plan(engine.PlanOptions{})
	f := p.Resource("local.file.f")
	type ba struct{ Before, After any }
	got := ba{f.Before["content"], f.After["content"]}
	if diff := cmp.Diff(ba{"hello", "bye"}, got); diff != "" {
		t.Errorf("local.file.f content (-want +got):\n%s", diff)
	}
	if p.State.Serial != 1 || p.State.Lineage == "" || p.State.Lineage != e.state().Lineage {
		t.Errorf("planned against %+v, want serial 1 and the state's lineage %s", p.State, e.state().Lineage)
	}
	if f := p.Resource("null.resource.a"); f.Args != nil || f.Before != nil || f.After != nil {
		t.Errorf("a no-op carries values: %+v; a no-op keeps the plan file small", f)
	}
}

func TestPlanOptionErrors(t *testing.T) {
	tests := []struct {
		name string
		opts engine.PlanOptions
		want []string
	}{
		{
			name: "unknown target",
			opts: engine.PlanOptions{Targets: []string{"null.resource.nope"}},
			want: []string{"--target null.resource.nope", "no such resource or machine in the configuration or the state"},
		},
		{
			name: "unknown replace",
			opts: engine.PlanOptions{Replace: []string{"null.resource.nope"}},
			want: []string{"--replace null.resource.nope", "no such resource or machine in the configuration"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			e.write("ferry.star", baseConfig)
			_, err := e.tryPlan(tt.opts)
			wantErr(t, err, tt.want...)
		})
	}
}

// TestPlanReferences checks how references resolve at plan time: values of
// resources that stay as they are come from state, values of resources
// that will be created or replaced are unknown.
func TestPlanReferences(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(baseConfig)
	aID := e.state().Resources["null.resource.a"].Attrs["id"]
	e.write("ferry.star", baseConfig+`
n = null.resource(name = "n")
c = null.resource(name = "c", triggers = {"a": a.id, "n": n.id, "v": a.triggers})
g = local.file(name = "g", path = "out/g.txt", content = f.content)
`)
	p := e.plan(engine.PlanOptions{})
	want := map[string]any{
		"a": aID,
		"n": spec.Unknown{Source: "null.resource.n.id"},
		"v": map[string]any{"v": "1"},
	}
	if diff := cmp.Diff(want, p.Resource("null.resource.c").After["triggers"]); diff != "" {
		t.Errorf("null.resource.c triggers (-want +got):\n%s", diff)
	}
	if got := p.Resource("local.file.g").After["content"]; got != "hello" {
		t.Errorf("local.file.g content = %v, want %q from the unchanged local.file.f", got, "hello")
	}
	// A value that will change is unknown even though state has one.
	e.write("ferry.star", strings.Replace(baseConfig, `{"v": "1"}`, `{"v": "2"}`, 1)+`
c = null.resource(name = "c", triggers = {"a": a.id})
`)
	p = e.plan(engine.PlanOptions{})
	if diff := cmp.Diff(map[string]any{"a": spec.Unknown{Source: "null.resource.a.id"}}, p.Resource("null.resource.c").After["triggers"]); diff != "" {
		t.Errorf("null.resource.c triggers after a is replaced (-want +got):\n%s", diff)
	}
}

func TestPlanUndeclaredReference(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", `a = null.resource(name = "a")
b = null.resource(name = "b", depends_on = [a, "null.resource.ghost"])
`)
	_, err := e.tryPlan(engine.PlanOptions{})
	wantErr(t, err, "ferry.star:2:5: null.resource.b refers to null.resource.ghost, which is not declared")
	if d, ok := spec.AsDiagnostic(err); !ok || d.Pos != (spec.Pos{File: "ferry.star", Line: 2, Col: 5}) {
		t.Errorf("error %v is not a diagnostic at ferry.star:2:5", err)
	}
}

func TestPlanCycle(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("ferry.star", `a = null.resource(name = "a", depends_on = ["null.resource.c"])
b = null.resource(name = "b", depends_on = [a])
c = null.resource(name = "c", triggers = {"b": b.id})
d = null.resource(name = "d", triggers = {"c": c.id})
`)
	_, err := e.tryPlan(engine.PlanOptions{})
	wantErr(t, err, "reference cycle: ",
		"null.resource.a (ferry.star:1:5)",
		"null.resource.b (ferry.star:2:5)",
		"null.resource.c (ferry.star:3:5)")
	if err != nil && strings.Contains(err.Error(), "null.resource.d") {
		t.Errorf("cycle error %q names null.resource.d, which is not on the cycle", err)
	}
	// The cycle is closed: it ends where it starts.
	if err != nil {
		msg := err.Error()
		i := strings.Index(msg, "reference cycle: ")
		parts := strings.Split(msg[i+len("reference cycle: "):], " -> ")
		if len(parts) != 4 || parts[0] != parts[3] {
			t.Errorf("cycle %q: want 3 members and a return to the first", parts)
		}
	}
	// A resource referring to itself.
	e.write("ferry.star", `a = null.resource(name = "a", depends_on = ["null.resource.a"])`)
	_, err = e.tryPlan(engine.PlanOptions{})
	wantErr(t, err, "ferry.star:1:5: reference cycle: null.resource.a refers to itself")
}

// TestPlanDestroyCarriesOutputs: apply re-evaluates the outputs against
// what a destroy leaves, so the destroy plan holds them too.
func TestPlanDestroyCarriesOutputs(t *testing.T) {
	e := newEnv(t, memStore)
	e.planApply(baseConfig)
	p := e.plan(engine.PlanOptions{Destroy: true})
	if len(p.Outputs) != 1 || !p.Options.Destroy {
		t.Errorf("destroy plan: Destroy=%v outputs=%v, want a destroy plan with the output a_id", p.Options.Destroy, p.Outputs)
	}
}
