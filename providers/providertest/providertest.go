package providertest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// Case describes one resource type to check. The fields after External
// enable the rules of optional abilities and say what the suite cannot
// guess; a field set for an ability the type lacks is an error.
type Case struct {
	// New returns a fresh implementation; it is called once per sub-test.
	// RunProvider fills it in from the provider when it is nil.
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
	// Distinct returns arguments that, merged over Create, make the i-th
	// of several objects that exist at once (batch refresh, concurrent
	// creates) another object than the rest, for types whose objects are
	// identified by their arguments (a DNS record by its zone, name and
	// type); nil when objects of equal arguments can coexist.
	Distinct func(i int) map[string]any

	// Slow holds arguments that, merged over Create, make a create take
	// far longer than a test may (minutes): a create given a short
	// deadline must then return that deadline's error promptly.
	Slow map[string]any
	// Fail holds arguments that, merged over Create, make a create fail
	// after the object came into being: it must return the error together
	// with the partial state of what exists.
	Fail map[string]any
	// Sensitive lists the attributes the schema must mark Sensitive, and
	// no others; their values must never appear in an error message.
	Sensitive []string

	// PageSize is how many objects one ReadMany call reads (BatchReader);
	// with Calls, a batch of N costs at most ceil(N/PageSize)+1 calls.
	PageSize int
	// Calls returns how many API calls r, as New returned it, made so far.
	Calls func(r providers.Resource) int
	// BatchObjects is how many objects the batch rule reads; default
	// PageSize+2 (two pages), or 5 without a PageSize.
	BatchObjects int

	// ImportID returns the ID that Import takes for an object's state
	// (Importer); default its "id" attribute.
	ImportID func(state map[string]any) string
	// MissingID is an ID that names no object; default
	// "ferry-conformance-missing".
	MissingID string
	// ImportIgnore lists attributes that Import and Adopt cannot read
	// back from the cloud (a password), left out of their comparisons.
	ImportIgnore []string

	// Idempotent is true when a create retried with the same token
	// returns the object the first one made (EC2's ClientToken); false
	// when the provider only finds it again with Adopt (Adopter).
	Idempotent bool

	// Upgrades holds a state of each older schema version and what
	// UpgradeState must make of it (StateUpgrader).
	Upgrades []Upgrade
}

// Upgrade is a state written by an older version of a schema and the
// state UpgradeState must return for it.
type Upgrade struct {
	Version int
	State   map[string]any
	Want    map[string]any
}

// Run checks c's resource type against the provider contract. Every
// sub-test talks to the type through the runtime checker
// (providers/checked), as the engine does, so that a provider breaking the
// contract fails with the checker's message.
func Run(t *testing.T, c Case) {
	t.Helper()
	if c.New == nil || c.Create == nil {
		t.Fatal("providertest.Case needs New and Create")
	}
	r := c.New(t)
	t.Run("schema", func(t *testing.T) {
		for _, p := range schemaProblems(r.Schema()) {
			t.Error(p)
		}
		for _, p := range caseProblems(r, c) {
			t.Error(p)
		}
	})
	t.Run("lifecycle", func(t *testing.T) { lifecycle(t, c) })
	t.Run("unknown arguments", func(t *testing.T) { unknownArgs(t, c) })
	t.Run("concurrent creates", func(t *testing.T) { concurrentCreates(t, c) })
	t.Run("cancelled context", func(t *testing.T) { cancelledCreate(t, c) })
	if c.Slow != nil {
		t.Run("deadline", func(t *testing.T) { deadlineCreate(t, c) })
	}
	if c.Fail != nil {
		t.Run("partial state", func(t *testing.T) { partialState(t, c) })
	}
	if len(r.Schema().Sensitive()) > 0 {
		t.Run("sensitive", func(t *testing.T) { sensitive(t, c) })
	}
	if _, ok := r.(providers.BatchReader); ok {
		t.Run("batch refresh", func(t *testing.T) { batchRefresh(t, c) })
	}
	if _, ok := r.(providers.Adopter); ok {
		t.Run("kill during create", func(t *testing.T) { killDuringCreate(t, c) })
	}
	if _, ok := r.(providers.Importer); ok {
		t.Run("import", func(t *testing.T) { importByID(t, c) })
	}
	if _, ok := r.(providers.StateUpgrader); ok {
		t.Run("state upgrade", func(t *testing.T) { upgradeState(t, c) })
	}
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

// harness wraps one provider instance with the checks shared by sub-tests.
type harness struct {
	t      *testing.T
	c      Case
	raw    providers.Resource // as New returned it
	r      providers.Resource // raw behind the runtime checker
	schema spec.Schema
	addr   string
	ctx    context.Context
}

func newHarness(t *testing.T, c Case) *harness {
	raw := c.New(t)
	s := raw.Schema()
	return &harness{t: t, c: c, raw: raw, r: checked.Wrap(raw), schema: s, addr: spec.ResourceAddr(s.Type, "conformance"), ctx: t.Context()}
}

// token returns a new idempotency token, as the engine journals one per
// planned create.
func token() string {
	var b [12]byte
	_, _ = rand.Read(b[:])
	return "ferry-conformance-" + hex.EncodeToString(b[:])
}

func clone(m map[string]any) map[string]any { return spec.CloneMap(m) }

// distinct is the configuration of the i-th of several objects that
// exist at once: Create, and Case.Distinct over it.
func (h *harness) distinct(i int) map[string]any {
	if h.c.Distinct == nil {
		return Config(h.schema, h.c.Create)
	}
	return Config(h.schema, h.c.Create, h.c.Distinct(i))
}

// calls returns the API calls made so far, when the Case can count them.
func (h *harness) calls() (int, bool) {
	if h.c.Calls == nil {
		return 0, false
	}
	return h.c.Calls(h.raw), true
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

// noFault fails the test when err is the runtime checker's: where the
// suite expects an error, a contract violation must not pass for it.
func (h *harness) noFault(step string, err error) {
	h.t.Helper()
	var f *checked.Fault
	if errors.As(err, &f) {
		h.t.Errorf("%s: %v", step, err)
	}
}

// without returns st without the attributes Import and Adopt cannot read.
func (h *harness) without(st map[string]any) map[string]any {
	if st == nil {
		return nil
	}
	out := clone(st)
	for _, name := range h.c.ImportIgnore {
		delete(out, name)
	}
	return out
}
