package providertest

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// thing is an in-memory resource type with a real object behind it, used
// to check the suite itself. broken names one way to violate the contract.
type thing struct {
	broken string
	mu     sync.Mutex
	store  map[string]string // id -> value
	next   int
}

func (r *thing) Schema() spec.Schema {
	s := spec.Schema{Type: "test.thing", Attrs: []spec.Attr{
		{Name: "key", Kind: spec.KindString, Required: true, ForceNew: true},
		{Name: "value", Kind: spec.KindString, Optional: true, Default: "v0"},
		{Name: "id", Kind: spec.KindString, Computed: true},
	}}
	if r.broken == "bad default" {
		s.Attrs[1].Default = spec.Number(1)
	}
	return s
}

func (r *thing) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	planned := map[string]any{"key": req.Config["key"], "value": req.Config["value"], "id": spec.Unknown{}}
	if r.broken == "plan omits id" {
		delete(planned, "id")
	}
	if req.Prior == nil {
		return providers.PlanResponse{Planned: planned}, nil
	}
	var replace []string
	keyChanged := req.Config["key"] != req.Prior["key"]
	if r.broken == "unknown key not replaced" {
		_, unknown := req.Config["key"].(spec.Unknown)
		keyChanged = keyChanged && !unknown
	}
	if keyChanged || r.broken == "noop plan replaces" {
		replace = []string{"key"}
	}
	if r.broken == "update replaces" && req.Config["value"] != req.Prior["value"] {
		replace = []string{"key"}
	}
	if replace == nil {
		planned["id"] = req.Prior["id"]
	}
	return providers.PlanResponse{Planned: planned, RequiresReplace: replace}, nil
}

func (r *thing) Apply(_ context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store == nil {
		r.store = map[string]string{}
	}
	switch req.Action {
	case providers.Create, providers.Update:
		id, _ := req.Prior["id"].(string)
		if req.Action == providers.Create {
			r.next++
			id = fmt.Sprint(r.next)
		}
		r.store[id], _ = req.Planned["value"].(string)
		st := map[string]any{"key": req.Planned["key"], "value": req.Planned["value"], "id": id}
		switch r.broken {
		case "unknown after apply":
			st["id"] = spec.Unknown{}
		case "int in state":
			st["value"] = 7
		}
		return providers.ApplyResponse{State: st}, nil
	case providers.Delete:
		if r.broken != "delete leaves object" {
			id, _ := req.Prior["id"].(string)
			delete(r.store, id)
		}
		return providers.ApplyResponse{}, nil
	}
	return providers.ApplyResponse{}, errors.New("bad action")
}

func (r *thing) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, _ := req.Prior["id"].(string)
	v, ok := r.store[id]
	if !ok {
		return providers.ReadResponse{}, nil
	}
	if r.broken == "read drifts" {
		v += "!"
	}
	return providers.ReadResponse{State: map[string]any{"key": req.Prior["key"], "value": v, "id": req.Prior["id"]}}, nil
}

func thingCase(broken string) Case {
	return Case{
		New:      func(*testing.T) providers.Resource { return &thing{broken: broken} },
		Create:   map[string]any{"key": "k1"},
		Update:   map[string]any{"value": "v1"},
		Replace:  map[string]any{"key": "k2"},
		External: true,
	}
}

func TestSuitePassesConformingProvider(t *testing.T) {
	Run(t, thingCase(""))
}

const brokenEnv = "FERRY_PROVIDERTEST_BROKEN"

// TestSuiteCatchesBrokenProviders runs the suite on providers that each
// break the contract one way, in a child process (the suite must fail
// there), and checks that it fails with the message that names the fault.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	if broken := os.Getenv(brokenEnv); broken != "" {
		Run(t, thingCase(broken)) // in the child: expected to fail
		return
	}
	tests := []struct{ broken, want string }{
		{"bad default", `test.thing attribute "value": Default "1": a json.Number is not a string`},
		{"plan omits id", `create: Plan left out attribute "id"`},
		{"unknown after apply", `create: Apply(create) attribute "id": (known after apply) is not known`},
		{"int in state", `attribute "value": int is not a JSON value`},
		{"read drifts", `after create: Read after apply changed the state`},
		{"noop plan replaces", `after create: unchanged arguments require replacing [key]`},
		{"update replaces", `Case.Update must change the resource in place`},
		{"unknown key not replaced", `argument "key" unknown: ForceNew attribute not in RequiresReplace`},
		{"delete leaves object", `after delete: Read returned`},
	}
	for _, tt := range tests {
		t.Run(tt.broken, func(t *testing.T) {
			cmd := exec.Command(os.Args[0], "-test.run=^TestSuiteCatchesBrokenProviders$", "-test.count=1")
			// GORACE: a race-enabled child otherwise waits a second at exit.
			cmd.Env = append(os.Environ(), brokenEnv+"="+tt.broken, "GORACE=atexit_sleep_ms=0")
			out, err := cmd.CombinedOutput()
			var exit *exec.ExitError
			if !errors.As(err, &exit) {
				t.Fatalf("suite run on a provider with %q: err %v, want a failing exit\n%s", tt.broken, err, out)
			}
			if !strings.Contains(string(out), tt.want) {
				t.Errorf("suite output lacks %q:\n%s", tt.want, out)
			}
		})
	}
}

func TestSchemaProblems(t *testing.T) {
	id := spec.Attr{Name: "id", Kind: spec.KindString, Computed: true}
	tests := []struct {
		name   string
		schema spec.Schema
		want   []string
	}{
		{"fine", spec.Schema{Type: "a.b", Attrs: []spec.Attr{id}}, nil},
		{"bad type", spec.Schema{Type: "Thing", Attrs: []spec.Attr{id}}, []string{`schema type "Thing": want "provider.kind" in lower case`}},
		{"no attrs", spec.Schema{Type: "a.b"}, []string{"schema a.b has no attributes"}},
		{"duplicate", spec.Schema{Type: "a.b", Attrs: []spec.Attr{id, id}}, []string{`a.b attribute "id": declared twice`}},
		{"reserved name", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "name", Kind: spec.KindString, Required: true}}},
			[]string{`a.b attribute "name": "name" is reserved for the resource's address`}},
		{"computed required", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "x", Kind: spec.KindString, Computed: true, Required: true}}},
			[]string{`a.b attribute "x": both Required and Computed`}},
		{"nothing", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "x", Kind: spec.KindString}}},
			[]string{`a.b attribute "x": neither Required, Optional nor Computed`}},
		{"unknown kind", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "x", Kind: "float", Optional: true}}},
			[]string{`a.b attribute "x": unknown kind "float"`}},
		{"default on required", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "x", Kind: spec.KindString, Required: true, Default: "d"}}},
			[]string{`a.b attribute "x": has a Default but is not Optional`}},
		{"bad duration default", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "d", Kind: spec.KindDuration, Optional: true, Default: "soon"}}},
			[]string{`a.b attribute "d": Default "soon": time: invalid duration "soon"`}},
		{"int default", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "n", Kind: spec.KindNumber, Optional: true, Default: 3}}},
			[]string{`a.b attribute "n": Default 3: a int is not a number`}},
		{"map default with int inside", spec.Schema{Type: "a.b", Attrs: []spec.Attr{{Name: "m", Kind: spec.KindMap, Optional: true, Default: map[string]any{"k": 1}}}},
			[]string{`a.b attribute "m": Default map[string]interface {}{"k":1}: .k: int is not a JSON value (use string, bool, json.Number, []any or map[string]any)`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if diff := cmp.Diff(tt.want, schemaProblems(tt.schema)); diff != "" {
				t.Errorf("problems (-want +got):\n%s", diff)
			}
		})
	}
}

func TestConfigAppliesDefaults(t *testing.T) {
	s := (&thing{}).Schema()
	got := Config(s, map[string]any{"key": "a"}, map[string]any{"key": "b"})
	if diff := cmp.Diff(map[string]any{"key": "b", "value": "v0"}, got); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
}
