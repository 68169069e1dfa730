package engine_test

import (
	"context"
	"fmt"
	"testing"

	"gocloud.dev/blob/memblob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/fakecloud"
)

// fakeFleet is a configuration of n fake.thing objects on one fake cloud
// configuration, applied, with the engine and the cloud to count calls.
type fakeFleet struct {
	eng   *engine.Engine
	cloud *fakecloud.Provider
	cfg   *spec.Config
}

func newFakeFleet(tb testing.TB, n, limit, pageSize int) *fakeFleet {
	tb.Helper()
	bkt := memblob.OpenBucket(nil)
	tb.Cleanup(func() { _ = bkt.Close() })
	cloud := fakecloud.New()
	reg, err := providers.NewRegistry(cloud)
	if err != nil {
		tb.Fatal(err)
	}
	cfg := &spec.Config{Dir: tb.TempDir(), Providers: []*spec.ProviderConfig{{Name: "fake", Args: map[string]any{"region": "r1", "limit": spec.Number(int64(limit)), "page_size": spec.Number(int64(pageSize))}}}}
	for i := range n {
		name := fmt.Sprintf("t%05d", i)
		cfg.Resources = append(cfg.Resources, &spec.Resource{Addr: "fake.thing." + name, Type: "fake.thing", Name: name,
			Args: map[string]any{"value": "v", "zone": "a", "secret": nil}})
	}
	f := &fakeFleet{eng: &engine.Engine{Providers: reg, Store: statestore.OpenBucket(bkt, "mem://"), Version: "test"}, cloud: cloud, cfg: cfg}
	p, err := f.eng.Plan(context.Background(), cfg, engine.PlanOptions{Deployment: testDeployment, Parallelism: 50})
	if err != nil {
		tb.Fatal(err)
	}
	res, err := f.eng.Apply(context.Background(), p, engine.ApplyOptions{Dir: cfg.Dir, Parallelism: 50})
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		tb.Fatal(err)
	}
	return f
}

// refresh plans the unchanged fleet and returns the cloud calls it made.
func (f *fakeFleet) refresh(tb testing.TB) fakecloud.Stats {
	tb.Helper()
	before := f.cloud.Stats("")
	p, err := f.eng.Plan(context.Background(), f.cfg, engine.PlanOptions{Deployment: testDeployment, Parallelism: 10})
	if err != nil {
		tb.Fatal(err)
	}
	if p.HasChanges() {
		tb.Fatalf("a no-change plan has changes: %+v", p.Count())
	}
	after := f.cloud.Stats("")
	out := fakecloud.Stats{Calls: map[string]int{}}
	for k, v := range after.Calls {
		if d := v - before.Calls[k]; d > 0 {
			out.Calls[k] = d
		}
	}
	return out
}

// TestRefreshIsBatched: refreshing N objects of one type costs O(N / page
// size) calls (BatchReader), not N, and the provider's own concurrency
// limit holds during apply.
func TestRefreshIsBatched(t *testing.T) {
	const n = 1000
	f := newFakeFleet(t, n, 4, 100)
	if got := f.cloud.Stats("").MaxInFlight; got > 4 {
		t.Errorf("apply ran %d calls at once, over the provider's limit of 4", got)
	}
	calls := f.refresh(t)
	if calls.Total() > n/100+1 || calls.Calls["fake.thing.get"] != 0 {
		t.Errorf("refresh of %d objects made %v, want at most %d describe calls", n, calls.Calls, n/100+1)
	}
}

// BenchmarkRefresh5000 measures the no-change plan of 5,000 objects of one
// type on the fake cloud, whose describe call returns pages of 1,000
// objects (EC2's DescribeInstances maximum): calls/op is the cloud API
// calls its refresh made (target: ≤ 10; the engine makes one ReadMany).
//
//	go test ./engine -run '^$' -bench Refresh5000 -benchtime 5x
func BenchmarkRefresh5000(b *testing.B) {
	f := newFakeFleet(b, 5000, 0, 1000)
	var calls int
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		calls += f.refresh(b).Total()
	}
	b.ReportMetric(float64(calls)/float64(b.N), "calls/op")
}
