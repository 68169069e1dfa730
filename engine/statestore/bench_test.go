package statestore_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/storetest"
)

// benchResource is about 400 bytes of state, so that 5,000 of them make
// the ~2 MB snapshot of a large deployment.
func benchResource(i int) *state.Resource {
	return &state.Resource{
		Type: "null.resource",
		Attrs: map[string]any{
			"id":       fmt.Sprintf("%016x", i*7919),
			"triggers": map[string]any{"v": fmt.Sprint(i), "host": fmt.Sprintf("host-%04d.example.com", i)},
			"size":     spec.Number(int64(i)),
			"enabled":  i%2 == 0,
			"tags":     []any{"bench", "fleet", fmt.Sprintf("rack-%d", i%40)},
			"note":     "a resource of the benchmark, padded to a realistic size for one state record",
		},
		Deps:       []string{fmt.Sprintf("null.resource.r%d", i/2)},
		DeclaredAt: fmt.Sprintf("ferry.star:%d:5", 10+i),
	}
}

// BenchmarkApplyRecord is what the engine's apply of 5,000 resources costs
// to record on file://: 500 journal appends (group commits of 10
// completed operations) and the final snapshot, which retires the
// journal. The target is well under 100 ms per op.
func BenchmarkApplyRecord(b *testing.B) {
	const resources, batch = 5000, 10
	ctx := context.Background()
	s, err := statestore.Open(ctx, "file://"+filepath.ToSlash(filepath.Join(b.TempDir(), ".ferry")))
	if err != nil {
		b.Fatal(err)
	}
	defer s.Close()
	l, err := s.Lock(ctx, "bench", statestore.LockInfo{Operation: "apply"}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer l.Release(context.Background())
	changes := make([]state.Change, resources)
	for i := range changes {
		changes[i] = state.Change{Addr: fmt.Sprintf("null.resource.r%d", i), Resource: benchResource(i)}
	}
	base, _, err := s.Read(ctx, "bench")
	if err != nil {
		b.Fatal(err)
	}
	base.Serial = 1
	for _, c := range changes {
		base.ApplyChange(c)
	}
	if err := s.Write(ctx, l, base); err != nil {
		b.Fatal(err)
	}
	snapshot, _ := state.Encode(base)
	b.Logf("snapshot of %d resources: %d bytes", resources, len(snapshot))

	// The lower bound: encoding the same records and snapshot, no I/O.
	b.Run("encode-only", func(b *testing.B) {
		for b.Loop() {
			for i := 0; i < resources; i += batch {
				if _, err := state.EncodeChanges(changes[i : i+batch]); err != nil {
					b.Fatal(err)
				}
			}
			if _, err := state.Encode(base); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("record", func(b *testing.B) { benchRecord(b, s, l, changes, batch) })
	// The same with state encryption (a local key): every record and the
	// snapshot sealed with one data key.
	b.Run("record-sealed", func(b *testing.B) {
		sealedStore, err := statestore.Open(ctx, s.URL(), statestore.WithSecrets(storetest.LocalKeys(b, 1)))
		if err != nil {
			b.Fatal(err)
		}
		defer sealedStore.Close()
		if err := l.Release(ctx); err != nil { // taken again by sealedStore
			b.Fatal(err)
		}
		sl, err := sealedStore.Lock(ctx, "bench", statestore.LockInfo{Operation: "apply"}, 0)
		if err != nil {
			b.Fatal(err)
		}
		defer sl.Release(context.Background())
		benchRecord(b, sealedStore, sl, changes, batch)
	})
}

func benchRecord(b *testing.B, s *statestore.Store, l *statestore.Lock, changes []state.Change, batch int) {
	ctx := context.Background()
	resources := len(changes)
	base, _, err := s.Read(ctx, "bench") // the last run's final state
	if err != nil {
		b.Fatal(err)
	}
	written := s.BytesWritten()
	for b.Loop() {
		j, err := s.OpenJournal(ctx, l, base)
		if err != nil {
			b.Fatal(err)
		}
		for i := 0; i < resources; i += batch {
			if err := j.Append(ctx, changes[i:i+batch]); err != nil {
				b.Fatal(err)
			}
		}
		if err := j.Close(); err != nil {
			b.Fatal(err)
		}
		final := base.Clone()
		final.Serial++
		if err := s.Write(ctx, l, final); err != nil {
			b.Fatal(err)
		}
		base = final
	}
	b.ReportMetric(float64(s.BytesWritten()-written)/float64(b.N), "bytes/op")
}
