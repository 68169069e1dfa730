package plan_test

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

var update = flag.Bool("update", false, "rewrite testdata golden files")

// smallPlan is a plan with every kind of action, references, unknowns,
// outputs and edges, deliberately out of order.
func smallPlan() *plan.Plan {
	return &plan.Plan{
		FormatVersion: plan.FormatVersion,
		FerryVersion:  "0.1.0",
		Deployment:    "staging",
		CreatedAt:     time.Date(2025, 3, 4, 5, 6, 7, 0, time.UTC),
		Options:       plan.Options{Targets: []string{"null.resource.a"}, Activate: "switch", Reboot: "never", Refresh: true, Vars: []string{"env"}},
		State:         plan.StateRef{Lineage: "0b5c3f4e-1d2a-4c3b-9e8f-7a6b5c4d3e2f", Serial: 7},
		Inputs: plan.Inputs{
			Digest: "sha256:placeholder",
			Files:  map[string]string{"lib/common.star": "bb", "ferry.star": "aa"},
			Vars:   map[string]string{"region": "cc"},
		},
		Resources: []*plan.Resource{
			{
				Addr: "null.resource.b", Type: "null.resource", Action: plan.Create,
				After: map[string]any{
					"id":       spec.Unknown{Source: "null.resource.b.id"},
					"triggers": map[string]any{"a": spec.Unknown{Source: "null.resource.a.id"}, "n": json.Number("3"), "html": "<&>"},
				},
				Args:       map[string]any{"triggers": map[string]any{"a": spec.Ref{Addr: "null.resource.a", Attr: "id"}, "n": json.Number("3"), "html": "<&>"}},
				Deps:       []string{"null.resource.z", "null.resource.a"},
				DeclaredAt: "ferry.star:2:5",
			},
			{
				Addr: "null.resource.a", Type: "null.resource", Action: plan.Replace,
				Before:         map[string]any{"id": "1", "triggers": map[string]any{"v": "1"}},
				After:          map[string]any{"id": spec.Unknown{Source: "null.resource.a.id"}, "triggers": map[string]any{"v": "2"}},
				ReplaceBecause: []string{"triggers"},
				Args:           map[string]any{"triggers": map[string]any{"v": "2"}},
				DeclaredAt:     "ferry.star:1:5",
			},
			{
				Addr: "local.file.f", Type: "local.file", Action: plan.Update, Reason: "drift: changed outside ferry",
				Before:     map[string]any{"path": "f.txt", "content": "old", "mode": "0644", "id": "x"},
				After:      map[string]any{"path": "f.txt", "content": "new", "mode": "0644", "id": "y"},
				Args:       map[string]any{"path": "f.txt", "content": "new", "mode": "0644"},
				DeclaredAt: "ferry.star:4:5",
			},
			{
				Addr: "null.resource.old", Type: "null.resource", Action: plan.Delete, Reason: "not in configuration",
				Before:     map[string]any{"id": "9", "triggers": map[string]any{}},
				Deps:       []string{"null.resource.a"},
				DeclaredAt: "ferry.star:9:1",
			},
			{Addr: "null.resource.z", Type: "null.resource", Action: plan.Noop, DeclaredAt: "ferry.star:3:5"},
		},
		Outputs: []*plan.Output{
			{Name: "b_id", Value: spec.Ref{Addr: "null.resource.b", Attr: "id"}, DeclaredAt: "ferry.star:6:1"},
			{Name: "a", Value: []any{spec.Ref{Addr: "null.resource.a", Attr: "triggers"}, "x", json.Number("1.5")}, DeclaredAt: "ferry.star:5:1"},
		},
		Edges: [][2]string{
			{"null.resource.old", "null.resource.a"},
			{"null.resource.a", "null.resource.b"},
		},
	}
}

func TestEncodeGolden(t *testing.T) {
	got, err := plan.Encode(smallPlan())
	if err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "small.plan.json")
	if *update {
		if err := os.WriteFile(golden, got, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(golden)
	if err != nil {
		t.Fatalf("%v (run `go test ./engine/plan -run Golden -update` to create it)", err)
	}
	if diff := cmp.Diff(string(want), string(got)); diff != "" {
		t.Errorf("Encode differs from %s (-want +got; rerun with -update if the change is intended):\n%s", golden, diff)
	}
}

func TestEncodeDeterministic(t *testing.T) {
	first, err := plan.Encode(smallPlan())
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		// Maps iterate in a new order each time; the slices are shuffled.
		p := smallPlan()
		n := len(p.Resources)
		p.Resources[i%n], p.Resources[(i*3+1)%n] = p.Resources[(i*3+1)%n], p.Resources[i%n]
		p.Edges[0], p.Edges[1] = p.Edges[1], p.Edges[0]
		got, err := plan.Encode(p)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(first, got) {
			t.Fatalf("encoding %d differs from the first:\n%s", i, cmp.Diff(string(first), string(got)))
		}
	}
	if !bytes.HasSuffix(first, []byte("}\n")) || bytes.HasSuffix(first, []byte("\n\n")) {
		t.Errorf("plan file does not end in exactly one newline: %q", first[len(first)-10:])
	}
	var doc struct {
		Resources []struct {
			Addr string   `json:"address"`
			Deps []string `json:"deps"`
		} `json:"resources"`
		Outputs []struct {
			Name string `json:"name"`
		} `json:"outputs"`
		Edges [][2]string `json:"edges"`
	}
	if err := json.Unmarshal(first, &doc); err != nil {
		t.Fatal(err)
	}
	var addrs, outs, edges []string
	for _, r := range doc.Resources {
		addrs = append(addrs, r.Addr)
		if !isSorted(r.Deps) {
			t.Errorf("%s deps %v not sorted", r.Addr, r.Deps)
		}
	}
	for _, o := range doc.Outputs {
		outs = append(outs, o.Name)
	}
	for _, e := range doc.Edges {
		edges = append(edges, e[0]+" "+e[1])
	}
	for what, s := range map[string][]string{"resources": addrs, "outputs": outs, "edges": edges} {
		if !isSorted(s) {
			t.Errorf("%s not sorted: %v", what, s)
		}
	}
	// Sensitive-looking HTML is written as is, not escaped.
	if !bytes.Contains(first, []byte(`"<&>"`)) {
		t.Errorf("plan file escapes HTML characters; want them readable")
	}
}

func isSorted(s []string) bool {
	for i := 1; i < len(s); i++ {
		if s[i-1] > s[i] {
			return false
		}
	}
	return true
}

func TestDecodeRoundTrip(t *testing.T) {
	data, err := plan.Encode(smallPlan())
	if err != nil {
		t.Fatal(err)
	}
	got, err := plan.Decode("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := smallPlan()
	want.Normalize()
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Decode(Encode(p)) (-want +got):\n%s", diff)
	}
	again, err := plan.Encode(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(data, again) {
		t.Errorf("re-encoding a decoded plan changes it:\n%s", cmp.Diff(string(data), string(again)))
	}
}

// TestEncodeEmpty checks that an empty plan still lists its (empty)
// resources and edges, so readers never meet null.
func TestEncodeEmpty(t *testing.T) {
	data, err := plan.Encode(&plan.Plan{Deployment: "d", Options: plan.Options{Activate: "switch", Reboot: "never"}})
	if err != nil {
		t.Fatal(err)
	}
	for _, frag := range []string{`"resources": []`, `"edges": []`, `"format_version": 2`} {
		if !strings.Contains(string(data), frag) {
			t.Errorf("empty plan %s lacks %s", data, frag)
		}
	}
	p, err := plan.Decode("empty.json", data)
	if err != nil {
		t.Fatal(err)
	}
	if p.HasChanges() {
		t.Errorf("empty plan has changes")
	}
}

func TestDecodeRefuses(t *testing.T) {
	good, err := plan.Encode(smallPlan())
	if err != nil {
		t.Fatal(err)
	}
	edit := func(old, new string) []byte {
		if !bytes.Contains(good, []byte(old)) {
			t.Fatalf("the plan file has no %q to edit", old)
		}
		return bytes.Replace(good, []byte(old), []byte(new), 1)
	}
	tests := []struct {
		name string
		data []byte
		want []string
	}{
		{
			name: "newer format version",
			data: edit(`"format_version": 2`, `"format_version": 3`),
			want: []string{"plan p.json has format version 3, newer than this ferry understands (2)", "upgrade ferry"},
		},
		{
			name: "older format version",
			data: edit(`"format_version": 2`, `"format_version": 1`),
			want: []string{"plan p.json has format version 1, written by an older ferry", "run `ferry plan --out p.json`"},
		},
		{
			name: "bad reboot option",
			data: edit(`"reboot": "never"`, `"reboot": "sometimes"`),
			want: []string{`plan p.json is corrupted: options: reboot "sometimes"`},
		},
		{
			name: "truncated",
			data: good[:len(good)/2],
			want: []string{"plan p.json is not a ferry plan file", "run `ferry plan --out p.json`"},
		},
		{
			name: "not JSON",
			data: []byte("resource \"x\" {}\n"),
			want: []string{"plan p.json is not a ferry plan file", "run `ferry plan --out p.json`"},
		},
		{
			name: "no format version",
			data: []byte(`{"deployment": "d"}`),
			want: []string{"plan p.json is not a ferry plan file (no format_version)", "run `ferry plan --out p.json`"},
		},
		{
			name: "wrong type",
			data: edit(`"serial": 7`, `"serial": "seven"`),
			want: []string{"plan p.json is corrupted", "run `ferry plan --out p.json`"},
		},
		{
			name: "unknown field",
			data: edit(`"deployment": "staging"`, `"deployment": "staging", "surprise": true`),
			want: []string{"plan p.json is corrupted", "surprise", "run `ferry plan --out p.json`"},
		},
		{
			name: "unknown action",
			data: edit(`"action": "create"`, `"action": "explode"`),
			want: []string{"plan p.json is corrupted: null.resource.b has unknown action \"explode\"", "run `ferry plan` again"},
		},
		{
			name: "resource without address",
			data: edit(`"address": "null.resource.z"`, `"address": ""`),
			want: []string{"plan p.json is corrupted: a resource without address or type", "run `ferry plan` again"},
		},
		{
			name: "edge naming an unknown resource",
			data: edit(`"null.resource.old",
      "null.resource.a"`, `"null.resource.gone",
      "null.resource.a"`),
			want: []string{"plan p.json is corrupted: edge null.resource.gone -> null.resource.a names a resource the plan does not hold", "run `ferry plan` again"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := plan.Decode("p.json", tt.data)
			if err == nil {
				t.Fatalf("Decode accepted it: %+v", p)
			}
			for _, w := range tt.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q\ndoes not contain %q", err, w)
				}
			}
		})
	}
}

func TestCountAndLookup(t *testing.T) {
	p := smallPlan()
	p.Normalize()
	want := plan.Counts{Add: 2, Change: 1, Destroy: 2, Noop: 1}
	if diff := cmp.Diff(want, p.Count()); diff != "" {
		t.Errorf("Count (-want +got):\n%s", diff)
	}
	if !p.HasChanges() {
		t.Errorf("HasChanges() = false")
	}
	for _, r := range p.Resources {
		if got := p.Resource(r.Addr); got != r {
			t.Errorf("Resource(%s) = %v", r.Addr, got)
		}
	}
	if got := p.Resource("null.resource.nope"); got != nil {
		t.Errorf("Resource(unknown) = %v, want nil", got)
	}
	noop := &plan.Plan{Resources: []*plan.Resource{{Addr: "a", Type: "t", Action: plan.Noop}}}
	if noop.HasChanges() {
		t.Errorf("a plan of no-ops has changes")
	}
}

// TestDecodeRefusesBadMachinePlans: apply parses durations, activations and
// rollout batches from the plan; a plan that would make it deploy
// something it did not plan, or guess a duration, is refused.
func TestDecodeRefusesBadMachinePlans(t *testing.T) {
	base := func() *plan.Plan {
		p := smallPlan()
		p.Machines = []*plan.Machine{
			{Name: "web", Addr: "machine.web", Action: plan.Deploy, Activate: "switch", ConfirmTimeout: "30s",
				Checks: []*plan.Check{{Kind: "cmd", Cmd: "true", Timeout: "30s", Interval: "2s", Retries: 3}}},
			{Name: "db", Addr: "machine.db", Action: plan.Noop, Activate: "switch"},
		}
		p.Rollout = &plan.Rollout{Batch: 1, Batches: [][]string{{"machine.web"}}}
		return p
	}
	tests := []struct {
		name   string
		mutate func(p *plan.Plan)
		want   string
	}{
		{"unchanged machine in a batch", func(p *plan.Plan) { p.Rollout.Batches = append(p.Rollout.Batches, []string{"machine.db"}) }, "batch 2 lists machine.db, which the plan does not deploy"},
		{"unknown machine in a batch", func(p *plan.Plan) { p.Rollout.Batches[0] = []string{"machine.x"} }, "batch 1 lists machine.x"},
		{"a machine twice", func(p *plan.Plan) { p.Rollout.Batches = append(p.Rollout.Batches, []string{"machine.web"}) }, "machine.web is in two batches"},
		{"negative max_failures", func(p *plan.Plan) { p.Rollout.MaxFailures = -1 }, "max_failures -1"},
		{"bad pause", func(p *plan.Plan) { p.Rollout.Pause = "soon" }, `pause "soon"`},
		{"bad confirm timeout", func(p *plan.Plan) { p.Machines[0].ConfirmTimeout = "0s" }, `confirm_timeout "0s"`},
		{"bad check timeout", func(p *plan.Plan) { p.Machines[0].Checks[0].Timeout = "" }, `"" is not a duration`},
		{"bad activation", func(p *plan.Plan) { p.Machines[0].Activate = "reboot" }, `activation "reboot"`},
	}
	if _, err := plan.Decode("p.json", mustEncode(t, base())); err != nil {
		t.Fatalf("the good plan is refused: %v", err)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := base()
			tt.mutate(p)
			_, err := plan.Decode("p.json", mustEncode(t, p))
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.Contains(err.Error(), "is corrupted") {
				t.Errorf("Decode: %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

func mustEncode(t *testing.T, p *plan.Plan) []byte {
	t.Helper()
	data, err := plan.Encode(p)
	if err != nil {
		t.Fatal(err)
	}
	return data
}
