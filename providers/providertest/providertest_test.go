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
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// thing is an in-memory resource type with a real object behind it and
// every optional ability, used to check the suite itself. broken names one
// way to violate the contract.
type thing struct {
	broken string
	// uniqueKeys makes key identify an object, as a DNS record's name
	// does: a create of a key that exists fails.
	uniqueKeys bool
	mu         sync.Mutex
	store      map[string]map[string]any // id -> state
	tokens     map[string]string         // creation token -> id
	next       int
	calls      int // "API calls": ReadMany pages
}

func (r *thing) Schema() spec.Schema {
	s := spec.Schema{Type: "test.thing", Version: 1, Attrs: []spec.Attr{
		{Name: "key", Kind: spec.KindString, Required: true, ForceNew: true},
		{Name: "value", Kind: spec.KindString, Optional: true, Default: "v0"},
		{Name: "secret", Kind: spec.KindString, Optional: true, Sensitive: true},
		{Name: "fail", Kind: spec.KindBool, Optional: true, Default: false},
		{Name: "delay", Kind: spec.KindDuration, Optional: true, Default: "0s"},
		{Name: "id", Kind: spec.KindString, Computed: true},
	}}
	if r.broken == "bad default" {
		s.Attrs[1].Default = spec.Number(1)
	}
	return s
}

func (r *thing) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	if _, ok := req.Config["key"]; !ok {
		msg := fmt.Sprintf("%s: missing key", req.Addr)
		if r.broken == "secret in error" {
			msg += fmt.Sprintf(" (config: %v)", req.Config)
		}
		return providers.PlanResponse{}, errors.New(msg)
	}
	planned := map[string]any{"id": spec.Unknown{}}
	for _, k := range []string{"key", "value", "secret", "fail", "delay"} {
		planned[k] = req.Config[k]
	}
	switch r.broken {
	case "plan omits id":
		delete(planned, "id")
	case "plan outside schema":
		planned["extra"] = "x"
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

func (r *thing) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := ctx.Err(); err != nil && r.broken != "ignores cancel" {
		return providers.ApplyResponse{}, fmt.Errorf("%s %s: %w", req.Action, req.Addr, err)
	}
	switch req.Action {
	case providers.Create:
		return r.create(ctx, req)
	case providers.Update:
		r.mu.Lock()
		defer r.mu.Unlock()
		id, _ := req.Prior["id"].(string)
		if _, ok := r.store[id]; !ok {
			msg := fmt.Sprintf("update %s: object %s is gone", req.Addr, id)
			if r.broken == "secret in error" {
				msg += fmt.Sprintf(" (it had secret %v)", req.Planned["secret"])
			}
			return providers.ApplyResponse{}, errors.New(msg)
		}
		st := spec.CloneMap(req.Planned)
		st["id"] = id
		r.store[id] = spec.CloneMap(st)
		return providers.ApplyResponse{State: st}, nil
	case providers.Delete:
		r.mu.Lock()
		defer r.mu.Unlock()
		if r.broken != "delete leaves object" {
			id, _ := req.Prior["id"].(string)
			delete(r.store, id)
		}
		return providers.ApplyResponse{}, nil
	}
	return providers.ApplyResponse{}, errors.New("bad action")
}

func (r *thing) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if d, _ := time.ParseDuration(req.Planned["delay"].(string)); d > 0 && r.broken != "ignores deadline" {
		select {
		case <-time.After(d):
		case <-ctx.Done():
			return providers.ApplyResponse{}, fmt.Errorf("create %s: %w", req.Addr, ctx.Err())
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.store == nil {
		r.store, r.tokens = map[string]map[string]any{}, map[string]string{}
	}
	if id, ok := r.tokens[req.Token]; ok && r.broken != "create not idempotent" {
		if st, ok := r.store[id]; ok {
			return providers.ApplyResponse{State: spec.CloneMap(st)}, nil
		}
	}
	for _, st := range r.store {
		if r.uniqueKeys && st["key"] == req.Planned["key"] {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: key %v exists", req.Addr, st["key"])
		}
	}
	r.next++
	id := fmt.Sprint(r.next)
	st := spec.CloneMap(req.Planned)
	st["id"] = id
	switch r.broken {
	case "unknown after apply":
		st["id"] = spec.Unknown{}
	case "int in state":
		st["value"] = 7
	case "apply changes value":
		st["value"] = "changed by apply"
	}
	r.store[id] = spec.CloneMap(st)
	if r.broken != "adopt finds nothing" {
		r.tokens[req.Token] = id
	}
	if fail, _ := req.Planned["fail"].(bool); fail {
		err := fmt.Errorf("create %s: object %s made, second step failed", req.Addr, id)
		if r.broken == "secret in error" {
			err = fmt.Errorf("%w with secret %v", err, req.Planned["secret"])
		}
		if r.broken == "no partial state" {
			return providers.ApplyResponse{}, err
		}
		return providers.ApplyResponse{State: st}, err
	}
	return providers.ApplyResponse{State: st}, nil
}

func (r *thing) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return providers.ReadResponse{State: r.lookup(req.Prior)}, nil
}

func (r *thing) lookup(prior map[string]any) map[string]any {
	id, _ := prior["id"].(string)
	st, ok := r.store[id]
	if !ok {
		if r.broken == "read many finds deleted" {
			return spec.CloneMap(prior)
		}
		return nil
	}
	st = spec.CloneMap(st)
	if r.broken == "read drifts" {
		st["value"] = st["value"].(string) + "!"
	}
	return st
}

// ReadMany reads pages of two objects per "call".
func (r *thing) ReadMany(_ context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		if i%2 == 0 || r.broken == "read many one call each" {
			r.calls++
		}
		out[i].State = r.lookup(req.Prior)
		if r.broken == "read many finds deleted" && out[i].State == nil {
			out[i].State = spec.CloneMap(req.Prior)
		}
	}
	switch r.broken {
	case "read many reversed":
		for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
			out[i], out[j] = out[j], out[i]
		}
	case "read many short":
		out = out[1:]
	}
	return out, nil
}

func (r *thing) Import(_ context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	st, ok := r.store[req.ID]
	switch {
	case ok:
		return providers.ImportResponse{State: spec.CloneMap(st)}, nil
	case r.broken == "import nil":
		return providers.ImportResponse{}, nil
	case r.broken == "import error without id":
		return providers.ImportResponse{}, errors.New("not found")
	}
	return providers.ImportResponse{}, fmt.Errorf("import %s: no thing %q", req.Addr, req.ID)
}

func (r *thing) Adopt(_ context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	id, ok := r.tokens[req.Token]
	if !ok {
		return providers.ReadResponse{}, nil
	}
	st, ok := r.store[id]
	if !ok {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: spec.CloneMap(st)}, nil
}

// UpgradeState: version 0 called value "val".
func (r *thing) UpgradeState(_ context.Context, req providers.UpgradeRequest) (map[string]any, error) {
	st := spec.CloneMap(req.State)
	if req.Version == 0 && r.broken != "upgrade wrong" {
		st["value"] = st["val"]
		delete(st, "val")
	}
	return st, nil
}

func thingCase(broken string) Case {
	return Case{
		New:       func(*testing.T) providers.Resource { return &thing{broken: broken} },
		Create:    map[string]any{"key": "k1"},
		Update:    map[string]any{"value": "v1"},
		Replace:   map[string]any{"key": "k2"},
		External:  true,
		Slow:      map[string]any{"delay": "1h"},
		Fail:      map[string]any{"fail": true},
		Sensitive: []string{"secret"},
		PageSize:  2,
		Calls: func(r providers.Resource) int {
			t := r.(*thing)
			t.mu.Lock()
			defer t.mu.Unlock()
			return t.calls
		},
		Idempotent: true,
		Upgrades: []Upgrade{{
			Version: 0,
			State:   map[string]any{"key": "k", "val": "v", "secret": nil, "fail": false, "delay": "0s", "id": "1"},
			Want:    map[string]any{"key": "k", "value": "v", "secret": nil, "fail": false, "delay": "0s", "id": "1"},
		}},
	}
}

func TestSuitePassesConformingProvider(t *testing.T) {
	Run(t, thingCase(""))
}

// TestSuiteDistinct: a type whose objects are identified by their
// arguments passes once Case.Distinct tells the objects that exist at
// once apart.
func TestSuiteDistinct(t *testing.T) {
	c := thingCase("")
	c.New = func(*testing.T) providers.Resource { return &thing{uniqueKeys: true} }
	c.Distinct = func(i int) map[string]any { return map[string]any{"key": fmt.Sprintf("k1-%d", i)} }
	Run(t, c)
}

const brokenEnv = "FERRY_PROVIDERTEST_BROKEN"

// TestSuiteCatchesBrokenProviders runs the suite on providers that each
// break the contract one way, in a child process (the suite must fail
// there), and checks that it fails with the message that names the fault:
// the runtime checker's where it catches the fault first.
func TestSuiteCatchesBrokenProviders(t *testing.T) {
	if broken := os.Getenv(brokenEnv); broken != "" {
		Run(t, thingCase(broken)) // in the child: expected to fail
		return
	}
	tests := []struct{ broken, want string }{
		{"bad default", `test.thing attribute "value": Default "1": a json.Number is not a string`},
		{"plan omits id", `create: Plan left out attribute "id"`},
		{"plan outside schema", `create: Plan: provider fault: test.thing returned attribute "extra", which its schema does not declare in reply to Plan of test.thing.conformance (a bug in the provider, not in your configuration)`},
		{"unknown after apply", `create: Apply(create): provider fault: test.thing returned "id" still unknown after apply in reply to Apply(create)`},
		{"int in state", `provider fault: test.thing returned "value" that is not JSON-like (int is not a JSON value`},
		{"apply changes value", `provider fault: test.thing returned "value" = "changed by apply" where the plan said "v0" in reply to Apply(create)`},
		{"read drifts", `after create: Read after apply changed the state`},
		{"noop plan replaces", `after create: unchanged arguments require replacing [key]`},
		{"update replaces", `Case.Update must change the resource in place`},
		{"unknown key not replaced", `argument "key" unknown: ForceNew attribute not in RequiresReplace`},
		{"delete leaves object", `after delete: Read returned`},
		{"ignores cancel", `create with a cancelled context: error <nil>, want one wrapping context.Canceled`},
		{"ignores deadline", `slow create with a short deadline: the create succeeded within 30ms; Case.Slow must make it take minutes`},
		{"no partial state", `failing create: returned the error "create test.thing.conformance: object 1 made, second step failed" and no partial state`},
		{"secret in error", `provider fault: test.thing returned an error message holding the value of sensitive attribute "secret"`},
		{"read many reversed", `ReadMany[0] (test.thing.conformance_3) differs from Read of the same object`},
		{"read many short", `provider fault: test.thing returned 4 responses for 5 requests in reply to ReadMany`},
		{"read many one call each", `ReadMany of 5 objects made 5 calls, want at most 4 (pages of 2, plus one)`},
		{"read many finds deleted", `ReadMany[2] (test.thing.conformance_1): got map[`},
		{"import nil", `import of an unknown ID "ferry-conformance-missing": provider fault: test.thing returned no state and no error for ID`},
		{"import error without id", `import of an unknown ID "ferry-conformance-missing": error "not found" does not name both test.thing.conformance and the ID`},
		{"adopt finds nothing", `after the kill: Adopt with the create's token found nothing`},
		{"create not idempotent", `after deleting the adopted object: Adopt still finds`},
		{"upgrade wrong", `upgrade from version 0: provider fault: test.thing returned attribute "val", which its schema does not declare in reply to UpgradeState(from version 0)`},
	}
	for _, tt := range tests {
		t.Run(tt.broken, func(t *testing.T) {
			t.Parallel()
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
		{"negative version", spec.Schema{Type: "a.b", Attrs: []spec.Attr{id}, Version: -1}, []string{"schema a.b: version -1 is negative"}},
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

// plainThing is thing without its optional abilities.
type plainThing struct{ t *thing }

func (p plainThing) Schema() spec.Schema { return p.t.Schema() }
func (p plainThing) Plan(ctx context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	return p.t.Plan(ctx, req)
}
func (p plainThing) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return p.t.Apply(ctx, req)
}
func (p plainThing) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return p.t.Read(ctx, req)
}

func TestCaseProblems(t *testing.T) {
	full := thingCase("")
	if got := caseProblems(&thing{}, full); got != nil {
		t.Errorf("problems of the conforming case: %v", got)
	}
	want := []string{
		"schema test.thing is at version 1 but its resource is not a StateUpgrader: state written by an older version could not be read",
		"schema test.thing marks [secret] sensitive, Case.Sensitive says []",
		"Case sets PageSize or BatchObjects, but test.thing is not a BatchReader",
		"Case sets ImportID or MissingID, but test.thing is not an Importer",
		"Case sets ImportIgnore, but test.thing is neither an Importer nor an Adopter",
		"Case sets Idempotent, but test.thing is not an Adopter",
		"Case sets Upgrades, but test.thing is not a StateUpgrader",
	}
	c := full
	c.Sensitive = []string{}
	c.MissingID, c.ImportIgnore = "x", []string{"secret"}
	if diff := cmp.Diff(want, caseProblems(plainThing{&thing{}}, c)); diff != "" {
		t.Errorf("problems of a plain resource with a full case (-want +got):\n%s", diff)
	}
}

func TestConfigAppliesDefaults(t *testing.T) {
	s := (&thing{}).Schema()
	got := Config(s, map[string]any{"key": "a"}, map[string]any{"key": "b"})
	if diff := cmp.Diff(map[string]any{"key": "b", "value": "v0", "fail": false, "delay": "0s"}, got); diff != "" {
		t.Errorf("Config (-want +got):\n%s", diff)
	}
}
