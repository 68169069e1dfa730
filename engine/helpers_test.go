package engine_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"gocloud.dev/blob"
	"gocloud.dev/blob/memblob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/local"
	"github.com/nixferry/ferry/providers/null"
	timeprovider "github.com/nixferry/ferry/providers/time"
)

// testDeployment is the deployment every test plans and applies.
const testDeployment = "test"

// fixedNow is the clock of every test engine, so plans are reproducible.
var fixedNow = time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)

// env is one configuration directory with a state store and an engine
// wired with the real providers, as the CLI wires them.
type env struct {
	t     testing.TB
	dir   string
	url   string
	store *statestore.Store
	eng   *engine.Engine
	reg   *providers.Registry
	bkt   *blob.Bucket // mem:// only

	mu     sync.Mutex
	events []engine.Event
	// hook, when set, is called for every event before it is recorded.
	hook func(engine.Event)
}

// storeKind says where an env keeps state.
type storeKind int

const (
	memStore  storeKind = iota // a fresh in-memory bucket
	fileStore                  // file:// in a temporary folder
)

func newEnv(t testing.TB, kind storeKind) *env {
	t.Helper()
	dir := t.TempDir()
	e := &env{t: t, dir: dir}
	switch kind {
	case memStore:
		bkt := memblob.OpenBucket(nil)
		e.url, e.bkt = "mem://", bkt
		e.store = statestore.OpenBucket(bkt, e.url)
		// Further Stores on the same bucket see the same objects.
		t.Cleanup(func() { _ = bkt.Close() })
	case fileStore:
		e.url = "file://" + filepath.ToSlash(filepath.Join(dir, ".ferry"))
		s, err := statestore.Open(context.Background(), e.url)
		if err != nil {
			t.Fatalf("open state store: %v", err)
		}
		e.store = s
		t.Cleanup(func() { _ = s.Close() })
	}
	reg, err := providers.NewRegistry(null.Provider(), timeprovider.Provider(), local.Provider(dir))
	if err != nil {
		t.Fatal(err)
	}
	e.reg = reg
	e.eng = &engine.Engine{
		Providers: reg,
		Store:     e.store,
		Version:   "test",
		Now:       func() time.Time { return fixedNow },
		Events: func(ev engine.Event) {
			e.mu.Lock()
			hook := e.hook
			e.mu.Unlock()
			if hook != nil {
				hook(ev)
			}
			e.mu.Lock()
			e.events = append(e.events, ev)
			e.mu.Unlock()
		},
	}
	return e
}

// otherStore opens a second Store on e's state, as another process would.
func (e *env) otherStore() *statestore.Store {
	e.t.Helper()
	if e.bkt != nil {
		// Not closed: closing it would close the shared bucket.
		return statestore.OpenBucket(e.bkt, e.url)
	}
	s, err := statestore.Open(context.Background(), e.url)
	if err != nil {
		e.t.Fatalf("open second state store: %v", err)
	}
	e.t.Cleanup(func() { _ = s.Close() })
	return s
}

func (e *env) setHook(h func(engine.Event)) {
	e.mu.Lock()
	e.hook = h
	e.mu.Unlock()
}

// takeEvents returns the events seen so far and forgets them.
func (e *env) takeEvents() []engine.Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	out := e.events
	e.events = nil
	return out
}

// write writes ferry.star (or another file) in the configuration folder.
func (e *env) write(name, src string) {
	e.t.Helper()
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// load evaluates ferry.star with the real lang package.
func (e *env) load(vars map[string]string) *spec.Config {
	e.t.Helper()
	cfg, err := e.tryLoad(vars)
	if err != nil {
		e.t.Fatalf("load ferry.star: %v", err)
	}
	return cfg
}

func (e *env) tryLoad(vars map[string]string) (*spec.Config, error) {
	return lang.Load(context.Background(), lang.Options{
		Dir:     e.dir,
		Vars:    vars,
		Schemas: e.reg.Schemas(),
		Print:   func(spec.Pos, string) {},
	})
}

// plan loads ferry.star and plans it.
func (e *env) plan(opts engine.PlanOptions) *plan.Plan {
	e.t.Helper()
	p, err := e.tryPlan(opts)
	if err != nil {
		e.t.Fatalf("plan: %v", err)
	}
	return p
}

func (e *env) tryPlan(opts engine.PlanOptions) (*plan.Plan, error) {
	cfg, err := e.tryLoad(nil)
	if err != nil {
		return nil, err
	}
	if opts.Deployment == "" {
		opts.Deployment = testDeployment
	}
	return e.eng.Plan(context.Background(), cfg, opts)
}

// apply applies p and fails the test on any error.
func (e *env) apply(p *plan.Plan) *engine.ApplyResult {
	e.t.Helper()
	res, err := e.eng.Apply(context.Background(), p, engine.ApplyOptions{Dir: e.dir})
	if err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	if err := res.Err(); err != nil {
		e.t.Fatalf("apply: %v", err)
	}
	return res
}

// planApply plans the configuration in ferry.star and applies it.
func (e *env) planApply(src string) *engine.ApplyResult {
	e.t.Helper()
	e.write("ferry.star", src)
	return e.apply(e.plan(engine.PlanOptions{}))
}

// state reads the deployment's state (journal replayed).
func (e *env) state() *state.State {
	e.t.Helper()
	st, _, err := e.store.Read(context.Background(), testDeployment)
	if err != nil {
		e.t.Fatalf("read state: %v", err)
	}
	return st
}

// edges renders a plan's edges as "from -> to" lines, in plan order.
func edges(p *plan.Plan) []string {
	out := []string{}
	for _, e := range p.Edges {
		out = append(out, e[0]+" -> "+e[1])
	}
	return out
}

// eventsOf keeps the events of one kind and renders them as addresses.
func eventsOf(evs []engine.Event, kind engine.EventKind) []string {
	var out []string
	for _, ev := range evs {
		if ev.Kind == kind {
			out = append(out, ev.Addr)
		}
	}
	return out
}

func sorted(s []string) []string {
	out := append([]string(nil), s...)
	sort.Strings(out)
	return out
}

// wantErr fails unless err is non-nil and contains every fragment.
func wantErr(t testing.TB, err error, fragments ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", fragments)
	}
	for _, f := range fragments {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("error %q\ndoes not contain %q", err, f)
		}
	}
}

func asStale(err error) bool {
	var se *plan.StaleError
	return errors.As(err, &se)
}

// emptyState is the state of a deployment that has none yet, as
// statestore.Store.Read returns it.
func emptyState() *state.State {
	return &state.State{FormatVersion: state.FormatVersion, Deployment: testDeployment, Resources: map[string]*state.Resource{}}
}

// layeredConfig declares var("n") null resources in 10 layers; each
// resource's triggers refer to the ids of 2 resources of the layer before.
const layeredConfig = `
n = int(var("n"))
layers = 10
width = n // layers
def build():
    prev = []
    for l in range(layers):
        cur = []
        for i in range(width):
            trig = {"l": l, "i": i}
            if prev:
                trig["a"] = prev[i % width].id
                trig["b"] = prev[(i * 7 + 1) % width].id
            cur.append(null.resource(name = "l%d_%d" % (l, i), triggers = trig))
        prev = cur
build()
`

// independentConfig declares var("n") null resources without references.
const independentConfig = `
n = int(var("n"))
def build():
    for i in range(n):
        null.resource(name = "r%d" % i, triggers = {"i": i})
build()
`

// sleepConfig declares var("n") independent 50 ms sleeps.
const sleepConfig = `
n = int(var("n"))
def build():
    for i in range(n):
        time.sleep(name = "s%d" % i, duration = var("duration", default = "50ms"))
build()
`

// closeJournal closes a statestore journal when its type has Close.
func closeJournal(j any) {
	if c, ok := j.(interface{ Close() error }); ok {
		_ = c.Close()
	}
}
