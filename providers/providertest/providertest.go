package providertest

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"reflect"
	"regexp"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Case describes one resource type to check.
type Case struct {
	// New returns a fresh implementation; it is called once per sub-test.
	New func(t *testing.T) providers.Resource
	// Create holds the arguments of a create (defaults are added).
	Create map[string]any
	// Update holds arguments that, merged over Create, change the resource
	// in place; nil when the type has nothing to update in place.
	Update map[string]any
	// Replace holds arguments that, merged over Create and Update, force a
	// replacement.
	Replace map[string]any
	// External is true when Read observes a real object, so that after
	// Delete, Read must report it gone (State nil).
	External bool
}

// Run checks c's resource type against the provider contract.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.New == nil || c.Create == nil {
		t.Fatal("providertest.Case needs New and Create")
	}
	t.Run("schema", func(t *testing.T) {
		for _, p := range schemaProblems(c.New(t).Schema()) {
			t.Error(p)
		}
	})
	t.Run("lifecycle", func(t *testing.T) { lifecycle(t, c) })
	t.Run("unknown arguments", func(t *testing.T) { unknownArgs(t, c) })
	t.Run("concurrent creates", func(t *testing.T) { concurrentCreates(t, c) })
}

// Config merges args in order over one another and adds the schema's
// default for every optional attribute left out, as lang does before a
// resource reaches the engine. Values are deep-copied.
func Config(s spec.Schema, args ...map[string]any) map[string]any {
	out := map[string]any{}
	for _, a := range args {
		for k, v := range a {
			out[k] = spec.Clone(v)
		}
	}
	for _, a := range s.Attrs {
		if _, set := out[a.Name]; !set && a.Optional && a.Default != nil {
			out[a.Name] = spec.Clone(a.Default)
		}
	}
	return out
}

var (
	typeName = regexp.MustCompile(`^[a-z][a-z0-9_]*\.[a-z][a-z0-9_]*$`)
	attrName = regexp.MustCompile(`^[a-z][a-z0-9_]*$`)
)

// schemaProblems lists what is wrong with s, one sentence each.
func schemaProblems(s spec.Schema) []string {
	var out []string
	problem := func(format string, args ...any) { out = append(out, fmt.Sprintf(format, args...)) }
	if !typeName.MatchString(s.Type) {
		problem("schema type %q: want \"provider.kind\" in lower case", s.Type)
	}
	if len(s.Attrs) == 0 {
		problem("schema %s has no attributes", s.Type)
	}
	seen := map[string]bool{}
	for _, a := range s.Attrs {
		where := fmt.Sprintf("%s attribute %q", s.Type, a.Name)
		if !attrName.MatchString(a.Name) {
			problem("%s: name must be lower case letters, digits and _", where)
		}
		if a.Name == "name" {
			problem("%s: \"name\" is reserved for the resource's address", where)
		}
		if seen[a.Name] {
			problem("%s: declared twice", where)
		}
		seen[a.Name] = true
		switch a.Kind {
		case spec.KindString, spec.KindNumber, spec.KindBool, spec.KindDuration,
			spec.KindMap, spec.KindList, spec.KindAny:
		default:
			problem("%s: unknown kind %q", where, a.Kind)
		}
		switch {
		case a.Required && a.Optional:
			problem("%s: both Required and Optional", where)
		case a.Required && a.Computed:
			problem("%s: both Required and Computed", where)
		case !a.Required && !a.Optional && !a.Computed:
			problem("%s: neither Required, Optional nor Computed", where)
		}
		if a.Computed && !a.Optional && a.ForceNew {
			problem("%s: computed-only but ForceNew (users cannot change it)", where)
		}
		if a.Default != nil {
			if !a.Optional {
				problem("%s: has a Default but is not Optional", where)
			}
			if err := matchesKind(a.Kind, a.Default); err != nil {
				problem("%s: Default %#v: %v", where, a.Default, err)
			}
		}
	}
	return out
}

// matchesKind reports whether v is a well-formed value of kind k.
func matchesKind(k spec.Kind, v any) error {
	ok := true
	switch k {
	case spec.KindString:
		_, ok = v.(string)
	case spec.KindNumber:
		_, ok = v.(json.Number)
	case spec.KindBool:
		_, ok = v.(bool)
	case spec.KindDuration:
		s, isString := v.(string)
		if !isString {
			ok = false
			break
		}
		if _, err := time.ParseDuration(s); err != nil {
			return err
		}
	case spec.KindMap:
		_, ok = v.(map[string]any)
	case spec.KindList:
		_, ok = v.([]any)
	}
	if !ok {
		return fmt.Errorf("a %T is not a %s", v, k)
	}
	if err := checkJSONShaped(v); err != nil {
		return err
	}
	return nil
}

// checkJSONShaped reports values that are not what json.Decoder with
// UseNumber produces (ints, floats, typed maps...), or that hold Unknown or
// Ref: state must survive a JSON round trip unchanged.
func checkJSONShaped(v any) error {
	switch v := v.(type) {
	case nil, bool, string, json.Number:
		return nil
	case []any:
		for i, e := range v {
			if err := checkJSONShaped(e); err != nil {
				return fmt.Errorf("[%d]: %w", i, err)
			}
		}
		return nil
	case map[string]any:
		for _, k := range slices.Sorted(maps.Keys(v)) {
			if err := checkJSONShaped(v[k]); err != nil {
				return fmt.Errorf(".%s: %w", k, err)
			}
		}
		return nil
	case spec.Unknown, spec.Ref:
		return fmt.Errorf("%s is not known", spec.Render(v))
	default:
		return fmt.Errorf("%T is not a JSON value (use string, bool, json.Number, []any or map[string]any)", v)
	}
}

// harness wraps one provider instance with the checks shared by sub-tests.
type harness struct {
	t      *testing.T
	r      providers.Resource
	schema spec.Schema
	addr   string
	ctx    context.Context
}

func newHarness(t *testing.T, c Case) *harness {
	r := c.New(t)
	s := r.Schema()
	return &harness{t: t, r: r, schema: s, addr: spec.ResourceAddr(s.Type, "conformance"), ctx: t.Context()}
}

// plan calls Plan and checks what every plan must satisfy.
func (h *harness) plan(step string, prior, config map[string]any) providers.PlanResponse {
	h.t.Helper()
	resp, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Prior: spec.Clone(prior).(map[string]any), Config: spec.Clone(config).(map[string]any)})
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

// apply calls Apply for a create or update and checks the new state.
func (h *harness) apply(step string, action providers.Action, prior, planned map[string]any) map[string]any {
	h.t.Helper()
	resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: action, Prior: spec.Clone(prior).(map[string]any), Planned: spec.Clone(planned).(map[string]any)})
	if err != nil {
		h.t.Fatalf("%s: Apply(%s): %v", step, action, err)
	}
	st := resp.State
	if st == nil {
		h.t.Fatalf("%s: Apply(%s) returned no state", step, action)
	}
	malformed := false
	for _, a := range h.schema.Attrs {
		v, ok := st[a.Name]
		if !ok {
			h.t.Errorf("%s: Apply(%s) state lacks attribute %q", step, action, a.Name)
			malformed = true
			continue
		}
		if err := checkJSONShaped(v); err != nil {
			h.t.Errorf("%s: Apply(%s) attribute %q: %v", step, action, a.Name, err)
			malformed = true
			continue
		}
		if pv := planned[a.Name]; !spec.HasUnknown(pv) {
			if diff := cmp.Diff(pv, v); diff != "" {
				h.t.Errorf("%s: Apply(%s) attribute %q differs from the known planned value (-planned +state):\n%s", step, action, a.Name, diff)
			}
		}
	}
	if malformed {
		// Later steps would feed this state back to the provider.
		h.t.FailNow()
	}
	h.roundTrip(step, st)
	return st
}

// roundTrip checks that st survives the JSON encoding state files use.
func (h *harness) roundTrip(step string, st map[string]any) {
	h.t.Helper()
	b, err := json.Marshal(spec.EncodeMap(st))
	if err != nil {
		h.t.Errorf("%s: state does not encode as JSON: %v", step, err)
		return
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var back map[string]any
	if err := dec.Decode(&back); err != nil {
		h.t.Errorf("%s: state JSON does not decode: %v", step, err)
		return
	}
	if diff := cmp.Diff(st, spec.DecodeMap(back)); diff != "" {
		h.t.Errorf("%s: state changes in a JSON round trip (-state +decoded):\n%s", step, diff)
	}
}

func (h *harness) read(step string, prior map[string]any) map[string]any {
	h.t.Helper()
	resp, err := h.r.Read(h.ctx, providers.ReadRequest{Addr: h.addr, Prior: spec.Clone(prior).(map[string]any)})
	if err != nil {
		h.t.Fatalf("%s: Read: %v", step, err)
	}
	return resp.State
}

func (h *harness) delete(step string, prior map[string]any) {
	h.t.Helper()
	resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Delete, Prior: spec.Clone(prior).(map[string]any)})
	if err != nil {
		h.t.Fatalf("%s: Apply(delete): %v", step, err)
	}
	if resp.State != nil {
		h.t.Errorf("%s: Apply(delete) returned state %v, want none", step, resp.State)
	}
}

// steady checks that reading and re-planning an unchanged object is a no-op.
func (h *harness) steady(step string, st, config map[string]any) {
	h.t.Helper()
	if diff := cmp.Diff(st, h.read(step+": read", st)); diff != "" {
		h.t.Errorf("%s: Read after apply changed the state (-applied +read):\n%s", step, diff)
	}
	p := h.plan(step+": plan with unchanged arguments", st, config)
	if len(p.RequiresReplace) > 0 {
		h.t.Errorf("%s: unchanged arguments require replacing %v", step, p.RequiresReplace)
	}
	if diff := cmp.Diff(st, p.Planned); diff != "" {
		h.t.Errorf("%s: unchanged arguments plan a change (-prior +planned):\n%s", step, diff)
	}
}

func lifecycle(t *testing.T, c Case) {
	h := newHarness(t, c)
	cfg := Config(h.schema, c.Create)

	p := h.plan("create", nil, cfg)
	st := h.apply("create", providers.Create, nil, p.Planned)
	h.steady("after create", st, cfg)

	if c.Update != nil {
		cfg = Config(h.schema, c.Create, c.Update)
		p = h.plan("update", st, cfg)
		if len(p.RequiresReplace) > 0 {
			t.Errorf("update: arguments %v require replacing %v; Case.Update must change the resource in place", c.Update, p.RequiresReplace)
		}
		if reflect.DeepEqual(p.Planned, st) {
			t.Errorf("update: arguments %v plan no change; Case.Update must change something", c.Update)
		}
		st = h.apply("update", providers.Update, st, p.Planned)
		for k, want := range c.Update {
			if diff := cmp.Diff(want, st[k]); diff != "" {
				t.Errorf("update: attribute %q after apply (-argument +state):\n%s", k, diff)
			}
		}
		h.steady("after update", st, cfg)
	}

	if c.Replace != nil {
		cfg = Config(h.schema, c.Create, c.Update, c.Replace)
		p = h.plan("replace", st, cfg)
		if len(p.RequiresReplace) == 0 {
			t.Errorf("replace: arguments %v do not require replacement; Case.Replace must change a ForceNew attribute", c.Replace)
		}
		// A replacement is a delete followed by a create.
		h.delete("replace", st)
		p = h.plan("replace: create", nil, cfg)
		st = h.apply("replace: create", providers.Create, nil, p.Planned)
		h.steady("after replace", st, cfg)
	}

	h.delete("delete", st)
	if c.External {
		if got := h.read("after delete", st); got != nil {
			t.Errorf("after delete: Read returned %v, want nil (the object is gone)", got)
		}
	}
	// A crashed apply may delete again what is already gone.
	h.delete("delete again", st)
}

// unknownArgs plans with each argument unknown in turn, as when it refers to
// a resource that does not exist yet.
func unknownArgs(t *testing.T, c Case) {
	h := newHarness(t, c)
	cfg := Config(h.schema, c.Create)
	st := h.apply("create", providers.Create, nil, h.plan("create", nil, cfg).Planned)
	for _, name := range slices.Sorted(maps.Keys(cfg)) {
		step := fmt.Sprintf("argument %q unknown", name)
		u := maps.Clone(cfg)
		u[name] = spec.Unknown{Source: "other.thing.x.id"}
		h.plan(step+", creating", nil, u)
		p := h.plan(step+", updating", st, u)
		if a, ok := h.schema.Attr(name); ok && a.ForceNew && !slices.Contains(p.RequiresReplace, name) {
			t.Errorf("%s: ForceNew attribute not in RequiresReplace %v (an unknown value may differ)", step, p.RequiresReplace)
		}
	}
	h.delete("cleanup", st)
}

func concurrentCreates(t *testing.T, c Case) {
	const n = 20
	h := newHarness(t, c)
	cfg := Config(h.schema, c.Create)
	states := make([]map[string]any, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			p, err := h.r.Plan(h.ctx, providers.PlanRequest{Addr: h.addr, Config: spec.Clone(cfg).(map[string]any)})
			if err != nil {
				t.Errorf("create %d: Plan: %v", i, err)
				return
			}
			resp, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: p.Planned})
			if err != nil {
				t.Errorf("create %d: Apply: %v", i, err)
				return
			}
			if err := checkJSONShaped(resp.State); err != nil {
				t.Errorf("create %d: state: %v", i, err)
			}
			if _, err := h.r.Read(h.ctx, providers.ReadRequest{Addr: h.addr, Prior: resp.State}); err != nil {
				t.Errorf("create %d: Read: %v", i, err)
			}
			states[i] = resp.State
		})
	}
	wg.Wait()
	for i := range n {
		wg.Go(func() {
			if states[i] == nil {
				return
			}
			if _, err := h.r.Apply(h.ctx, providers.ApplyRequest{Addr: h.addr, Action: providers.Delete, Prior: states[i]}); err != nil {
				t.Errorf("delete %d: %v", i, err)
			}
		})
	}
	wg.Wait()
}
