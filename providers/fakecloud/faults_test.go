package fakecloud

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers"
)

func TestParseFault(t *testing.T) {
	tests := []struct {
		line string
		want fault
		err  string
	}{
		{line: "fail", want: fault{mode: "fail"}},
		{line: "fail 2 throttled: slow down", want: fault{mode: "fail", count: 2, msg: "throttled: slow down"}},
		{line: "hang-after", want: fault{mode: "hang-after"}},
		{line: "fail-after 1", want: fault{mode: "fail-after", count: 1}},
		{line: "fail 3rd time", want: fault{mode: "fail", msg: "3rd time"}},
		{line: "", err: "empty fault"},
		{line: "boom", err: `unknown mode "boom"`},
		{line: "fail -1", err: "count -1 must be positive"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			got, err := parseFault(tt.line)
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Errorf("error %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got, cmp.AllowUnexported(fault{})); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
			if back, _ := parseFault(got.line()); back != got {
				t.Errorf("line() %q reads back as %+v", got.line(), back)
			}
		})
	}
}

// faultSources inject a fault line into calls named call, the three ways
// a test can.
var faultSources = map[string]func(t *testing.T, call, line string) *Cloud{
	"configuration": func(t *testing.T, call, line string) *Cloud {
		return configure(t, New(), "", map[string]any{"faults": map[string]any{call: line}})
	},
	"InjectFault": func(t *testing.T, call, line string) *Cloud {
		p := New()
		if err := p.Memory("r1").InjectFault(call, line); err != nil {
			t.Fatal(err)
		}
		return configure(t, p, "", nil)
	},
	"file": func(t *testing.T, call, line string) *Cloud {
		dir := t.TempDir()
		if err := os.MkdirAll(filepath.Join(dir, "faults"), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, "faults", call), []byte(line+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return configure(t, New(), "", map[string]any{"dir": dir})
	},
}

func TestCountedFailure(t *testing.T) {
	for source, inject := range faultSources {
		t.Run(source, func(t *testing.T) {
			c := inject(t, "fake.thing.create", "fail 2 throttled")
			for i := range 2 {
				_, err := create(t, c, ThingType, "fake.thing.a", "", map[string]any{"value": "v"})
				if err == nil || err.Error() != "create fake.thing.a: fake.thing.create: throttled" {
					t.Errorf("create %d: error %v, want the injected one", i+1, err)
				}
			}
			if _, err := create(t, c, ThingType, "fake.thing.a", "", map[string]any{"value": "v"}); err != nil {
				t.Errorf("create 3, after the fault was used up: %v", err)
			}
			if objs, _ := c.Store().List(ThingType); len(objs) != 1 {
				t.Errorf("%d objects, want the one of the third create", len(objs))
			}
		})
	}
}

func TestFailAfterCreateReturnsPartialState(t *testing.T) {
	for source, inject := range faultSources {
		t.Run(source, func(t *testing.T) {
			c := inject(t, "fake.thing.create", "fail-after")
			st, err := create(t, c, ThingType, "fake.thing.a", "tok", map[string]any{"value": "v"})
			if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("create fake.thing.a: fake.thing %v was made, but the create then failed", st["id"])) {
				t.Errorf("error %v, want one naming the object that was made", err)
			}
			if st == nil || read(t, c, ThingType, st) == nil {
				t.Errorf("partial state %v does not identify an existing object", st)
			}
		})
	}
}

func TestFlakySecondStep(t *testing.T) {
	c := configure(t, New(), "", nil)
	st, err := create(t, c, FlakyType, "fake.flaky.a", "tok", map[string]any{"fail_after_create": true})
	if err == nil || !strings.Contains(err.Error(), "its second step failed because fail_after_create = True") {
		t.Errorf("error %v", err)
	}
	if st["ready"] != false || read(t, c, FlakyType, st)["ready"] != false {
		t.Errorf("partial state %v: want an object that exists, not ready", st)
	}
	// The second step is a call of its own, which a fault can fail too.
	if err := c.Store().InjectFault("fake.flaky.ready", "fail 1 not today"); err != nil {
		t.Fatal(err)
	}
	st, err = create(t, c, FlakyType, "fake.flaky.b", "tok2", map[string]any{})
	if err == nil || !strings.Contains(err.Error(), "fake.flaky.ready: not today") || st["ready"] != false {
		t.Errorf("create with a failing ready call: %v, %v", st, err)
	}
	if st := mustCreate(t, c, FlakyType, "fake.flaky.c", "tok3", map[string]any{}); st["ready"] != true {
		t.Errorf("create without faults: %v, want ready", st)
	}
}

func TestHangUntilCancelled(t *testing.T) {
	p := New()
	if err := p.Memory("r1").InjectFault("fake.slow.create", "hang"); err != nil {
		t.Fatal(err)
	}
	c := configure(t, p, "", nil)
	ctx, cancel := context.WithCancel(t.Context())
	const n = 3
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = createCtx(ctx, c, SlowType, "fake.slow.a") })
	}
	if err := p.WaitHanging(t.Context(), "fake.slow.create", n); err != nil {
		t.Fatal(err)
	}
	if s := c.Stats(); s.MaxInFlight != n || s.Hanging["fake.slow.create"] != n {
		t.Errorf("stats %+v with %d calls hanging", s, n)
	}
	cancel()
	wg.Wait()
	for i, err := range errs {
		if !errors.Is(err, context.Canceled) {
			t.Errorf("create %d: %v, want context.Canceled", i, err)
		}
	}
	if objs, _ := c.Store().List(SlowType); len(objs) != 0 {
		t.Errorf("a create that hung before acting made %d objects", len(objs))
	}
}

func createCtx(ctx context.Context, c *Cloud, typ, addr string) (map[string]any, error) {
	r := resource(c, typ)
	p, err := r.Plan(ctx, providers.PlanRequest{Addr: addr, Config: map[string]any{}})
	if err != nil {
		return nil, err
	}
	resp, err := r.Apply(ctx, providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned, Token: "t"})
	return resp.State, err
}

func TestFaultFiles(t *testing.T) {
	dir := t.TempDir()
	c := configure(t, New(), "", map[string]any{"dir": dir})
	if err := c.Store().InjectFault("fake.thing.get", "fail 2 flaky network"); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "faults", "fake.thing.get")
	st := mustCreate(t, c, ThingType, "fake.thing.a", "", map[string]any{"value": "v"})
	r := resource(c, ThingType)
	if _, err := r.Read(t.Context(), providers.ReadRequest{Addr: "fake.thing.a", Prior: st}); err == nil {
		t.Error("read with a fault: no error")
	}
	if b, _ := os.ReadFile(file); string(b) != "fail 1 flaky network\n" {
		t.Errorf("fault file after one use: %q", b)
	}
	_, _ = r.Read(t.Context(), providers.ReadRequest{Addr: "fake.thing.a", Prior: st})
	if _, err := os.Stat(file); !os.IsNotExist(err) {
		t.Errorf("fault file still there when used up (%v)", err)
	}

	// An empty file is "fail"; a file naming no call stops Configure.
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Read(t.Context(), providers.ReadRequest{Addr: "fake.thing.a", Prior: st}); err == nil || !strings.Contains(err.Error(), "fake.thing.get: injected fault") {
		t.Errorf("read with an empty fault file: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "faults", "fake.thing.craete"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := New().Configure(t.Context(), providers.ConfigureRequest{Config: map[string]any{"region": "r1", "dir": dir}})
	if err == nil || !strings.Contains(err.Error(), "fault file "+filepath.Join(dir, "faults", "fake.thing.craete")+" names no call") {
		t.Errorf("Configure with a misnamed fault file: %v", err)
	}
	if err := c.Store().InjectFault("fake.nothing.create", "fail"); err == nil {
		t.Error("InjectFault of an unknown call: no error")
	}
}
