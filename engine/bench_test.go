package engine_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"gocloud.dev/blob/memblob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore"
)

// Benchmarks of the engine on the shapes of cmd/ferry-bench, without the
// process around it. Configurations are loaded once, outside the timer,
// except where the name says Load.
//
//	go test ./engine -run '^$' -bench . -benchtime 3x

// benchEnv is an env without event recording, for benchmarks.
func benchEnv(b *testing.B, kind storeKind, config string, n int) (*env, *spec.Config) {
	b.Helper()
	e := newEnv(b, kind)
	e.eng.Events = nil
	e.write("ferry.star", config)
	cfg := e.load(map[string]string{"n": strconv.Itoa(n)})
	if len(cfg.Resources) != n {
		b.Fatalf("config declares %d resources, want %d", len(cfg.Resources), n)
	}
	return e, cfg
}

func planOrFail(b *testing.B, e *env, cfg *spec.Config, opts engine.PlanOptions) *plan.Plan {
	b.Helper()
	opts.Deployment = testDeployment
	p, err := e.eng.Plan(context.Background(), cfg, opts)
	if err != nil {
		b.Fatal(err)
	}
	return p
}

// benchPlan measures planning n resources from empty state: the plan
// builder alone, Plan with a mem:// store (lock, read, build, release),
// and Load plus Plan as `ferry plan` does it.
func benchPlan(b *testing.B, config string, n int) {
	ctx := context.Background()
	e, cfg := benchEnv(b, memStore, config, n)
	opts := engine.PlanOptions{Deployment: testDeployment}
	check := func(p *plan.Plan) {
		if c := p.Count(); c.Add != n {
			b.Fatalf("plan adds %d, want %d", c.Add, n)
		}
	}
	b.Run("BuildPlan", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, err := e.eng.BuildPlan(ctx, cfg, emptyState(), opts)
			if err != nil {
				b.Fatal(err)
			}
			check(p)
		}
	})
	b.Run("Plan", func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			p, err := e.eng.Plan(ctx, cfg, opts)
			if err != nil {
				b.Fatal(err)
			}
			check(p)
		}
	})
	b.Run("LoadPlanEncode", func(b *testing.B) {
		b.ReportAllocs()
		vars := map[string]string{"n": strconv.Itoa(n)}
		for i := 0; i < b.N; i++ {
			cfg, err := e.tryLoad(vars)
			if err != nil {
				b.Fatal(err)
			}
			p, err := e.eng.Plan(ctx, cfg, opts)
			if err != nil {
				b.Fatal(err)
			}
			if _, err := plan.Encode(p); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func BenchmarkPlanLayered5000(b *testing.B) { benchPlan(b, layeredConfig, 5000) }

func BenchmarkPlanIndependent10000(b *testing.B) { benchPlan(b, independentConfig, 10000) }

// BenchmarkApplyLayered5000 applies the 5,000-resource layered plan to an
// empty file:// state, with the journal recording every completed
// operation. It reports the bytes the store wrote (snapshot, journal, lock)
// per byte of the final snapshot.
func BenchmarkApplyLayered5000(b *testing.B) {
	const n = 5000
	e, cfg := benchEnv(b, memStore, layeredConfig, n)
	p := planOrFail(b, e, cfg, engine.PlanOptions{})
	ctx := context.Background()
	var written, final int64
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		root := filepath.Join(b.TempDir(), "state")
		store, err := statestore.Open(ctx, "file://"+filepath.ToSlash(root))
		if err != nil {
			b.Fatal(err)
		}
		eng := *e.eng
		eng.Store = store
		b.StartTimer()
		res, err := eng.Apply(ctx, p, engine.ApplyOptions{Dir: e.dir})
		if err != nil || res.Err() != nil {
			b.Fatalf("apply: %v %v", err, res.Err())
		}
		b.StopTimer()
		if res.Added != n {
			b.Fatalf("added %d, want %d", res.Added, n)
		}
		info, err := os.Stat(filepath.Join(root, filepath.FromSlash(statestore.SnapshotKey(testDeployment, res.Serial))))
		if err != nil {
			b.Fatal(err)
		}
		written, final = store.BytesWritten(), info.Size()
		_ = store.Close()
		b.StartTimer()
	}
	b.ReportMetric(float64(written)/float64(final), "written/final")
	b.ReportMetric(float64(final), "final-state-B")
}

// BenchmarkReplanNoChanges5000 plans the applied layered configuration
// again on file:// state: lock, read, refresh every resource, no changes.
func BenchmarkReplanNoChanges5000(b *testing.B) {
	const n = 5000
	e, cfg := benchEnv(b, fileStore, layeredConfig, n)
	e.apply(planOrFail(b, e, cfg, engine.PlanOptions{}))
	b.ResetTimer()
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		p := planOrFail(b, e, cfg, engine.PlanOptions{Parallelism: 10})
		if p.HasChanges() {
			b.Fatalf("re-plan has changes: %+v", p.Count())
		}
	}
}

// BenchmarkApplySleep200 applies 200 independent 50 ms sleeps. The lower
// bound is 200 × 50 ms / parallelism; the benchmark reports its time as a
// multiple of that bound.
func BenchmarkApplySleep200(b *testing.B) {
	const n = 200
	for _, par := range []int{10, 50} {
		b.Run(fmt.Sprintf("parallelism=%d", par), func(b *testing.B) {
			e, cfg := benchEnv(b, memStore, sleepConfig, n)
			p := planOrFail(b, e, cfg, engine.PlanOptions{})
			bound := time.Duration(n/par) * 50 * time.Millisecond
			ctx := context.Background()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				b.StopTimer()
				bkt := memblob.OpenBucket(nil)
				eng := *e.eng
				eng.Store = statestore.OpenBucket(bkt, "mem://")
				b.StartTimer()
				res, err := eng.Apply(ctx, p, engine.ApplyOptions{Dir: e.dir, Parallelism: par})
				if err != nil || res.Err() != nil {
					b.Fatalf("apply: %v %v", err, res.Err())
				}
				b.StopTimer()
				_ = bkt.Close()
				b.StartTimer()
			}
			perOp := b.Elapsed() / time.Duration(b.N)
			b.ReportMetric(float64(perOp)/float64(bound), "x-bound")
		})
	}
}
