package storetest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

// Opener returns two Stores on one fresh, empty bucket and registers
// their cleanup with t. It may be called from parallel subtests.
type Opener func(t *testing.T) (a, b *statestore.Store)

// Run runs every conformance test, each on its own bucket.
func Run(t *testing.T, open Opener) {
	tests := []struct {
		name string
		run  func(t *testing.T, a, b *statestore.Store)
	}{
		{"EmptyDeployment", testEmptyDeployment},
		{"InvalidDeploymentName", testInvalidDeploymentName},
		{"LockRoundTrip", testLockRoundTrip},
		{"LockRace", testLockRace},
		{"LockWait", testLockWait},
		{"Unlock", testUnlock},
		{"CorruptedLock", testCorruptedLock},
		{"FirstWriteAssignsLineage", testFirstWrite},
		{"WriteNeedsLiveLock", testWriteNeedsLiveLock},
		{"WriteRace", testWriteRace},
		{"WriteStaleSerial", testWriteStaleSerial},
		{"WriteWrongLineage", testWriteWrongLineage},
		{"StaleHint", testStaleHint},
		{"JournalReplay", testJournalReplay},
		{"JournalOnEmptyDeployment", testJournalOnEmptyDeployment},
		{"JournalContinuesAfterCrash", testJournalContinuesAfterCrash},
		{"JournalStaleBase", testJournalStaleBase},
		{"JournalAppendRace", testJournalAppendRace},
		{"StaleSegmentsIgnored", testStaleSegmentsIgnored},
		{"HistoryAndReadSerial", testHistoryAndReadSerial},
		{"Deployments", testDeployments},
		{"CorruptedSnapshot", testCorruptedSnapshot},
		{"CorruptedSegment", testCorruptedSegment},
		{"BytesWritten", testBytesWritten},
		{"PlanKey", testPlanKey},
		{"PlanKeyRace", testPlanKeyRace},
		{"CorruptedPlanKey", testCorruptedPlanKey},
		{"DeleteDeployment", testDeleteDeployment},
		{"DeleteDeploymentWithoutSnapshot", testDeleteDeploymentWithoutSnapshot},
		{"DeleteDeploymentNeedsItsLock", testDeleteDeploymentNeedsItsLock},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			a, b := open(t)
			tc.run(t, a, b)
		})
	}
}

const dep = "staging"

// res is a resource record whose attributes survive a JSON round trip.
func res(id string) *state.Resource {
	return &state.Resource{
		Type:  "null.resource",
		Attrs: map[string]any{"id": id, "n": spec.Number(int64(len(id))), "tags": []any{"a", true}},
	}
}

func lock(t *testing.T, s *statestore.Store, op string) *statestore.Lock {
	t.Helper()
	l, err := s.Lock(t.Context(), dep, statestore.LockInfo{Operation: op, Version: "test"}, 0)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	t.Cleanup(func() { _ = l.Release(context.Background()) })
	return l
}

func read(t *testing.T, s *statestore.Store) (*state.State, statestore.ReadInfo) {
	t.Helper()
	st, info, err := s.Read(t.Context(), dep)
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return st, info
}

// next returns a copy of st at the next serial with changes applied.
func next(st *state.State, changes ...state.Change) *state.State {
	n := st.Clone()
	n.Serial++
	for _, c := range changes {
		n.ApplyChange(c)
	}
	return n
}

func put(addr, id string) state.Change { return state.Change{Addr: addr, Resource: res(id)} }
func del(addr string) state.Change     { return state.Change{Addr: addr} }

// written writes serials 1..n on a fresh deployment and returns the last.
func written(t *testing.T, s *statestore.Store, l *statestore.Lock, n int) *state.State {
	t.Helper()
	st, _ := read(t, s)
	for i := 1; i <= n; i++ {
		st = next(st, put(fmt.Sprintf("null.resource.r%d", i), fmt.Sprintf("id-%d", i)))
		if err := s.Write(t.Context(), l, st); err != nil {
			t.Fatalf("Write serial %d: %v", st.Serial, err)
		}
	}
	return st
}

func wantConflict(t *testing.T, err error, what string) *statestore.ConflictError {
	t.Helper()
	var ce *statestore.ConflictError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %v, want a *ConflictError", what, err)
	}
	if !strings.Contains(err.Error(), "ferry plan") || !strings.Contains(err.Error(), "another run wrote state") {
		t.Errorf("%s: conflict message %q does not say that another run wrote state and to re-run plan", what, err)
	}
	return ce
}

func wantContains(t *testing.T, err error, parts ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("got no error, want one containing %q", parts)
	}
	for _, p := range parts {
		if !strings.Contains(err.Error(), p) {
			t.Errorf("error %q does not contain %q", err, p)
		}
	}
}

func testEmptyDeployment(t *testing.T, a, _ *statestore.Store) {
	st, info := read(t, a)
	want := &state.State{FormatVersion: state.FormatVersion, Deployment: dep, Resources: map[string]*state.Resource{}}
	if d := cmp.Diff(want, st); d != "" {
		t.Errorf("Read of an empty deployment (-want +got):\n%s", d)
	}
	if d := cmp.Diff(statestore.ReadInfo{}, info); d != "" {
		t.Errorf("ReadInfo (-want +got):\n%s", d)
	}
	h, err := a.History(t.Context(), dep)
	if err != nil || len(h) != 0 {
		t.Errorf("History = %v, %v; want none", h, err)
	}
	li, err := a.LockInfo(t.Context(), dep)
	if err != nil || li != nil {
		t.Errorf("LockInfo = %v, %v; want nil, nil", li, err)
	}
	ds, err := a.Deployments(t.Context())
	if err != nil || len(ds) != 0 {
		t.Errorf("Deployments = %q, %v; want none", ds, err)
	}
	if _, err := a.ReadSerial(t.Context(), dep, 1); err == nil {
		t.Errorf("ReadSerial(1) of an empty deployment succeeded")
	}
	if key, ok, err := a.ReadPlanKey(t.Context(), dep); key != nil || ok || err != nil {
		t.Errorf("ReadPlanKey of an empty deployment = %d bytes, %v, %v; want none", len(key), ok, err)
	}
}

func testInvalidDeploymentName(t *testing.T, a, _ *statestore.Store) {
	for _, name := range []string{"", "../x", "a/b", ".hidden", "-x", "sp ace"} {
		if _, _, err := a.Read(t.Context(), name); err == nil || !strings.Contains(err.Error(), "invalid deployment name") {
			t.Errorf("Read(%q) = %v, want an invalid deployment name error", name, err)
		}
		if _, err := a.Lock(t.Context(), name, statestore.LockInfo{}, 0); err == nil {
			t.Errorf("Lock(%q) succeeded", name)
		}
	}
}

func testLockRoundTrip(t *testing.T, a, b *statestore.Store) {
	before := time.Now()
	l, err := a.Lock(t.Context(), dep, statestore.LockInfo{Operation: "apply", Version: "v1.2.3"}, 0)
	if err != nil {
		t.Fatalf("Lock: %v", err)
	}
	after := time.Now()
	host, _ := os.Hostname()
	if l.Info.ID == "" || l.Info.Host != host || l.Info.PID != os.Getpid() || !strings.HasSuffix(l.Info.Who, "@"+host) ||
		l.Info.Operation != "apply" || l.Info.Version != "v1.2.3" || l.BrokeStale != nil || l.Deployment() != dep {
		t.Errorf("Lock filled in %+v (BrokeStale %v, Deployment %q); want an ID, this host and PID, user@host, the operation and version", l.Info, l.BrokeStale, l.Deployment())
	}
	if c := l.Info.Created; c.Before(before.Add(-time.Second)) || c.After(after.Add(time.Second)) {
		t.Errorf("Created = %v, want between %v and %v", c, before, after)
	}
	got, err := b.LockInfo(t.Context(), dep)
	if err != nil {
		t.Fatalf("LockInfo: %v", err)
	}
	if got == nil {
		t.Fatal("LockInfo = nil while locked")
	}
	if d := cmp.Diff(l.Info, *got); d != "" {
		t.Errorf("LockInfo seen by the other client (-lock +read):\n%s", d)
	}
	if err := l.Release(context.WithoutCancel(t.Context())); err != nil {
		t.Fatalf("Release: %v", err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Errorf("second Release: %v, want a no-op", err)
	}
	if got, err := b.LockInfo(t.Context(), dep); err != nil || got != nil {
		t.Errorf("LockInfo after Release = %v, %v; want nil", got, err)
	}
	l2 := lock(t, b, "plan")
	if l2.Info.ID == l.Info.ID {
		t.Errorf("two locks share ID %s", l.Info.ID)
	}
}

func testLockRace(t *testing.T, a, b *statestore.Store) {
	for round := range 5 {
		var wg sync.WaitGroup
		locks := make([]*statestore.Lock, 2)
		errs := make([]error, 2)
		start := make(chan struct{})
		for i, s := range []*statestore.Store{a, b} {
			wg.Go(func() {
				<-start
				locks[i], errs[i] = s.Lock(t.Context(), dep, statestore.LockInfo{Operation: fmt.Sprintf("apply-%d", i)}, 0)
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for i := range 2 {
			if errs[i] == nil {
				if won >= 0 {
					t.Fatalf("round %d: both clients hold the lock", round)
				}
				won = i
			}
		}
		if won < 0 {
			t.Fatalf("round %d: nobody got the lock: %v; %v", round, errs[0], errs[1])
		}
		winner, lost := locks[won].Info, errs[1-won]
		var le *statestore.LockedError
		if !errors.As(lost, &le) {
			t.Fatalf("round %d: loser got %v, want a *LockedError", round, lost)
		}
		if le.Deployment != dep || le.Info.ID != winner.ID || le.Info.Operation != winner.Operation {
			t.Errorf("round %d: LockedError names %+v, want the winner %+v", round, le.Info, winner)
		}
		wantContains(t, lost, dep, winner.Who, winner.Operation, winner.ID, `run "ferry unlock `+winner.ID+`" if that run is gone`)
		if err := locks[won].Release(context.WithoutCancel(t.Context())); err != nil {
			t.Fatalf("round %d: Release: %v", round, err)
		}
	}
}

// testLockWait orders its steps on events, never on time: a waiter that
// must see the holder is known to wait through LockOptions.Waiting.
func testLockWait(t *testing.T, a, b *statestore.Store) {
	la, err := a.Lock(t.Context(), dep, statestore.LockInfo{Operation: "apply"}, 0)
	if err != nil {
		t.Fatal(err)
	}
	// A wait that runs out: however slow the bucket, the result is the
	// holder's *LockedError, and never before the wait is over.
	start := time.Now()
	_, err = b.Lock(t.Context(), dep, statestore.LockInfo{Operation: "plan"}, 300*time.Millisecond)
	if waited := time.Since(start); waited < 300*time.Millisecond {
		t.Errorf("Lock with a 300ms wait gave up after %v", waited)
	}
	var le *statestore.LockedError
	if !errors.As(err, &le) || le.Info.ID != la.Info.ID {
		t.Fatalf("Lock after waiting: %v, want a *LockedError naming %s", err, la.Info.ID)
	}

	// The context ends while the waiter waits for a holder it has read.
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var seen []string
	_, err = b.LockWith(ctx, dep, statestore.LockInfo{}, statestore.LockOptions{
		Wait: time.Hour,
		Waiting: func(holder statestore.LockInfo) {
			seen = append(seen, holder.ID)
			cancel()
		},
	})
	if !errors.Is(err, context.Canceled) || !errors.As(err, &le) || le.Info.ID != la.Info.ID {
		t.Errorf("Lock whose context ended while it waited: %v, want the context's error and the holder", err)
	}
	if d := cmp.Diff([]string{la.Info.ID}, seen); d != "" {
		t.Errorf("Waiting saw holders (-want +got):\n%s", d)
	}

	// The holder releases once the waiter waits: the waiter gets the lock.
	var release sync.Once
	lb, err := b.LockWith(t.Context(), dep, statestore.LockInfo{Operation: "plan"}, statestore.LockOptions{
		Wait: time.Hour,
		Waiting: func(statestore.LockInfo) {
			release.Do(func() {
				if err := la.Release(context.Background()); err != nil {
					t.Errorf("Release: %v", err)
				}
			})
		},
	})
	if err != nil {
		t.Fatalf("Lock while the holder releases: %v", err)
	}
	defer lb.Release(context.Background())
	if got, err := a.LockInfo(t.Context(), dep); err != nil || got == nil || got.ID != lb.Info.ID {
		t.Errorf("LockInfo after the waiter got the lock = %+v, %v; want %s", got, err, lb.Info.ID)
	}
}

func testUnlock(t *testing.T, a, b *statestore.Store) {
	if err := b.Unlock(t.Context(), dep, "nope"); err == nil || !strings.Contains(err.Error(), "not locked") {
		t.Errorf("Unlock of an unlocked deployment: %v, want a not locked error", err)
	}
	la := lock(t, a, "apply")
	err := b.Unlock(t.Context(), dep, "wrong-id")
	wantContains(t, err, la.Info.ID, la.Info.Who, "wrong-id")
	if li, _ := b.LockInfo(t.Context(), dep); li == nil || li.ID != la.Info.ID {
		t.Fatalf("a wrong-ID Unlock changed the lock: %v", li)
	}
	if err := b.Unlock(t.Context(), dep, la.Info.ID); err != nil {
		t.Fatalf("Unlock with the right ID: %v", err)
	}
	if li, err := b.LockInfo(t.Context(), dep); li != nil || err != nil {
		t.Errorf("LockInfo after Unlock = %v, %v", li, err)
	}
	lb := lock(t, b, "apply")
	err = la.Release(t.Context())
	wantContains(t, err, lb.Info.ID)
	if li, _ := b.LockInfo(t.Context(), dep); li == nil || li.ID != lb.Info.ID {
		t.Errorf("the broken lock's Release removed the new holder's lock: %v", li)
	}
	if err := a.Write(t.Context(), la, next(&state.State{Resources: map[string]*state.Resource{}})); err == nil {
		t.Errorf("Write with a released lock succeeded")
	}
}

func testCorruptedLock(t *testing.T, a, b *statestore.Store) {
	if err := a.PutObjectForTesting(t.Context(), statestore.LockKey(dep), []byte("{garbage")); err != nil {
		t.Fatal(err)
	}
	url := a.ObjectURL(statestore.LockKey(dep))
	_, err := b.LockInfo(t.Context(), dep)
	wantContains(t, err, url, "ferry unlock")
	_, err = b.Lock(t.Context(), dep, statestore.LockInfo{}, 0)
	wantContains(t, err, url)
	if err := b.Unlock(t.Context(), dep, "any"); err != nil {
		t.Fatalf("Unlock of an unreadable lock: %v", err)
	}
	lock(t, a, "apply")
}

func testFirstWrite(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	st, _ := read(t, a)
	st = next(st, put("null.resource.a", "A"))
	st.Deployment = ""
	if err := a.Write(t.Context(), l, st); err != nil {
		t.Fatalf("first Write: %v", err)
	}
	if st.Lineage == "" || st.Deployment != dep {
		t.Errorf("first Write left lineage %q, deployment %q; want a new lineage and %q", st.Lineage, st.Deployment, dep)
	}
	got, info := read(t, b)
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("Read after Write (-written +read):\n%s", d)
	}
	if info.Snapshot != b.ObjectURL(statestore.SnapshotKey(dep, 1)) || info.JournalSegments != 0 {
		t.Errorf("ReadInfo = %+v", info)
	}
	// A state pushed into an empty deployment keeps its lineage.
	l2, err := a.Lock(t.Context(), "other", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l2.Release(context.Background())
	pushed := &state.State{Lineage: "keep-me", Serial: 1, Resources: map[string]*state.Resource{}}
	if err := a.Write(t.Context(), l2, pushed); err != nil {
		t.Fatal(err)
	}
	got, _, err = b.Read(t.Context(), "other")
	if err != nil || got.Lineage != "keep-me" || got.Deployment != "other" {
		t.Errorf("Read of a pushed state = %+v, %v", got, err)
	}
	wrong := &state.State{Deployment: dep, Serial: 2, Resources: map[string]*state.Resource{}}
	if err := a.Write(t.Context(), l2, wrong); err == nil {
		t.Errorf("Write of deployment %q's state under the lock of %q succeeded", dep, "other")
	}
}

func testWriteNeedsLiveLock(t *testing.T, a, b *statestore.Store) {
	st := &state.State{Serial: 1, Resources: map[string]*state.Resource{}}
	if err := a.Write(t.Context(), nil, st); err == nil {
		t.Errorf("Write without a lock succeeded")
	}
	lb := lock(t, b, "apply")
	if err := a.Write(t.Context(), lb, st); err == nil {
		t.Errorf("Write with another store's lock succeeded")
	}
	if _, err := a.OpenJournal(t.Context(), lb, st); err == nil {
		t.Errorf("OpenJournal with another store's lock succeeded")
	}
}

// breakAndTake makes b take the lock that a holds, as `ferry unlock` of a
// live run would allow.
func breakAndTake(t *testing.T, b *statestore.Store, la *statestore.Lock) *statestore.Lock {
	t.Helper()
	if err := b.Unlock(t.Context(), dep, la.Info.ID); err != nil {
		t.Fatal(err)
	}
	return lock(t, b, "apply")
}

func testWriteRace(t *testing.T, a, b *statestore.Store) {
	la := lock(t, a, "apply")
	written(t, a, la, 1)
	lb := breakAndTake(t, b, la) // both now believe they may write
	for round := range 5 {
		base, _ := read(t, a)
		states := []*state.State{
			next(base, put("null.resource.x", fmt.Sprintf("a-%d", round))),
			next(base, put("null.resource.x", fmt.Sprintf("b-%d", round))),
		}
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, w := range []struct {
			s *statestore.Store
			l *statestore.Lock
		}{{a, la}, {b, lb}} {
			wg.Go(func() {
				<-start
				errs[i] = w.s.Write(t.Context(), w.l, states[i])
			})
		}
		close(start)
		wg.Wait()
		won := -1
		for i, err := range errs {
			if err == nil {
				if won >= 0 {
					t.Fatalf("round %d: both writes of serial %d succeeded", round, base.Serial+1)
				}
				won = i
			}
		}
		if won < 0 {
			t.Fatalf("round %d: both writes failed: %v; %v", round, errs[0], errs[1])
		}
		wantConflict(t, errs[1-won], fmt.Sprintf("round %d loser", round))
		got, _ := read(t, b)
		if d := cmp.Diff(states[won], got); d != "" {
			t.Errorf("round %d: state after the race is not the winner's (-winner +read):\n%s", round, d)
		}
	}
}

func testWriteStaleSerial(t *testing.T, a, _ *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 2)
	for _, serial := range []uint64{1, 2, 4} {
		s := next(st)
		s.Serial = serial
		ce := wantConflict(t, a.Write(t.Context(), l, s), fmt.Sprintf("Write of serial %d on top of 2", serial))
		if ce.LatestSerial != 2 || ce.Deployment != dep {
			t.Errorf("ConflictError %+v, want latest serial 2", ce)
		}
	}
	if err := a.Write(t.Context(), l, next(st)); err != nil {
		t.Errorf("Write of serial 3 after the refused ones: %v", err)
	}
	if err := a.Write(t.Context(), l, &state.State{Serial: 0, Lineage: st.Lineage}); err == nil {
		t.Errorf("Write of serial 0 succeeded")
	}
}

func testWriteWrongLineage(t *testing.T, a, _ *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 1)
	for _, lineage := range []string{"another-lineage", ""} {
		s := next(st)
		s.Lineage = lineage
		err := a.Write(t.Context(), l, s)
		ce := wantConflict(t, err, "Write with lineage "+lineage)
		if ce.LatestLineage != st.Lineage {
			t.Errorf("ConflictError %+v, want latest lineage %s", ce, st.Lineage)
		}
		wantContains(t, err, "lineage", st.Lineage)
		if s.Lineage != lineage {
			t.Errorf("a refused Write changed the lineage to %q", s.Lineage)
		}
	}
}

func testStaleHint(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 3)
	// The hint lives beside the lock; plant stale, damaged and too-new hints.
	hint := dep + "/latest.json"
	for _, h := range []string{`{"serial": 1}`, `garbage`, `{"serial": 99}`, `{"serial": 0}`} {
		if err := a.PutObjectForTesting(t.Context(), hint, []byte(h)); err != nil {
			t.Fatal(err)
		}
		got, _ := read(t, b)
		if got.Serial != 3 {
			t.Errorf("with hint %s Read found serial %d, want 3", h, got.Serial)
		}
	}
	st = next(st)
	if err := a.Write(t.Context(), l, st); err != nil {
		t.Errorf("Write of serial 4 after a bad hint: %v", err)
	}
}

func testJournalReplay(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	base := written(t, a, l, 1) // null.resource.r1
	j, err := a.OpenJournal(t.Context(), l, base)
	if err != nil {
		t.Fatalf("OpenJournal: %v", err)
	}
	batches := [][]state.Change{
		{put("null.resource.x", "X"), put("null.resource.y", "Y")},
		{del("null.resource.r1")},
		{},
		{put("null.resource.x", "X2")},
	}
	want := base.Clone()
	for i, batch := range batches {
		if err := j.Append(t.Context(), batch); err != nil {
			t.Fatalf("Append: %v", err)
		}
		for _, c := range batch {
			want.ApplyChange(c)
		}
		if i == 1 {
			// Appending after Close goes on, in a new segment.
			if err := j.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
		}
	}
	if err := j.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	got, info := read(t, b)
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Read with a journal (-want +got):\n%s", d)
	}
	if info.JournalSegments != 3 || info.JournalChanges != 4 {
		t.Errorf("ReadInfo = %+v, want 3 group commits (an empty batch writes none) and 4 changes", info)
	}
	// Sorted, each once (x is written twice), deletions included.
	if d := cmp.Diff([]string{"null.resource.r1", "null.resource.x", "null.resource.y"}, info.JournalAddrs); d != "" {
		t.Errorf("JournalAddrs (-want +got):\n%s", d)
	}
	// The apply ends by writing the final snapshot, which retires the journal.
	final := next(got)
	if err := a.Write(t.Context(), l, final); err != nil {
		t.Fatalf("final Write: %v", err)
	}
	got, info = read(t, b)
	if d := cmp.Diff(final, got); d != "" {
		t.Errorf("Read after the final Write (-want +got):\n%s", d)
	}
	if info.JournalSegments != 0 || info.JournalAddrs != nil {
		t.Errorf("after the final Write Read replayed %d segments touching %q", info.JournalSegments, info.JournalAddrs)
	}
}

func testJournalOnEmptyDeployment(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	base, _ := read(t, a)
	j, err := a.OpenJournal(t.Context(), l, base)
	if err != nil {
		t.Fatalf("OpenJournal on an empty deployment: %v", err)
	}
	for _, c := range []state.Change{put("null.resource.a", "A"), put("null.resource.b", "B")} {
		if err := j.Append(t.Context(), []state.Change{c}); err != nil {
			t.Fatal(err)
		}
	}
	got, info := read(t, b)
	if got.Serial != 0 || got.Lineage != "" || len(got.Resources) != 2 || info.JournalSegments != 2 || info.Snapshot != "" || len(info.JournalAddrs) != 2 {
		t.Fatalf("Read after a crashed first apply: %+v, %+v; want serial 0, no lineage, 2 resources from 2 segments", got, info)
	}
	// A plan compacts: it writes serial 1, which assigns the lineage.
	compact := next(got)
	if err := a.Write(t.Context(), l, compact); err != nil {
		t.Fatalf("compacting Write: %v", err)
	}
	got, info = read(t, b)
	if d := cmp.Diff(compact, got); d != "" || info.JournalSegments != 0 || got.Lineage == "" {
		t.Errorf("Read after compaction: segments %d, lineage %q (-want +got):\n%s", info.JournalSegments, got.Lineage, d)
	}
}

func testJournalContinuesAfterCrash(t *testing.T, a, b *statestore.Store) {
	la := lock(t, a, "apply")
	base := written(t, a, la, 1)
	j, err := a.OpenJournal(t.Context(), la, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(t.Context(), []state.Change{put("null.resource.x", "X")}); err != nil {
		t.Fatal(err)
	}
	// Run a dies; run b breaks its lock and applies on top of what it reads.
	lb := breakAndTake(t, b, la)
	st, _ := read(t, b)
	jb, err := b.OpenJournal(t.Context(), lb, st)
	if err != nil {
		t.Fatalf("OpenJournal on a state with segments: %v", err)
	}
	if err := jb.Append(t.Context(), []state.Change{put("null.resource.y", "Y")}); err != nil {
		t.Fatalf("Append after a crashed journal: %v", err)
	}
	got, info := read(t, a)
	want := next(base, put("null.resource.x", "X"), put("null.resource.y", "Y"))
	want.Serial = base.Serial
	if d := cmp.Diff(want, got); d != "" || info.JournalSegments != 2 {
		t.Errorf("Read of a continued journal: %d segments (-want +got):\n%s", info.JournalSegments, d)
	}
}

func testJournalStaleBase(t *testing.T, a, _ *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 2)
	old, err := a.ReadSerial(t.Context(), dep, 1)
	if err != nil {
		t.Fatal(err)
	}
	_, err = a.OpenJournal(t.Context(), l, old)
	wantConflict(t, err, "OpenJournal on serial 1 when 2 is the latest")
	other := st.Clone()
	other.Lineage = "other"
	_, err = a.OpenJournal(t.Context(), l, other)
	wantConflict(t, err, "OpenJournal on another lineage")
}

func testJournalAppendRace(t *testing.T, a, b *statestore.Store) {
	la := lock(t, a, "apply")
	base := written(t, a, la, 1)
	ja, err := a.OpenJournal(t.Context(), la, base)
	if err != nil {
		t.Fatal(err)
	}
	lb := breakAndTake(t, b, la)
	jb, err := b.OpenJournal(t.Context(), lb, base)
	if err != nil {
		t.Fatal(err)
	}
	if err := ja.Append(t.Context(), []state.Change{put("null.resource.x", "X")}); err != nil {
		t.Fatal(err)
	}
	err = jb.Append(t.Context(), []state.Change{put("null.resource.x", "other")})
	wantContains(t, err, "another run")
	got, _ := read(t, a)
	if d := cmp.Diff(res("X"), got.Resources["null.resource.x"]); d != "" {
		t.Errorf("the losing Append overwrote a segment (-want +got):\n%s", d)
	}
}

func testStaleSegmentsIgnored(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 2)
	seg, err := state.EncodeChanges([]state.Change{put("null.resource.ghost", "G"), del("null.resource.r1")})
	if err != nil {
		t.Fatal(err)
	}
	// Segments of serial 1 (a crashed apply that a later Write superseded,
	// left behind because deleting them failed) and of another lineage.
	for _, key := range []string{
		statestore.JournalSegmentKey(dep, st.Lineage, 1, 1),
		statestore.JournalSegmentKey(dep, "other", 2, 1),
	} {
		if err := a.PutObjectForTesting(t.Context(), key, seg); err != nil {
			t.Fatal(err)
		}
	}
	got, info := read(t, b)
	if d := cmp.Diff(st, got); d != "" || info.JournalSegments != 0 {
		t.Errorf("Read with stale segments replayed %d (-want +got):\n%s", info.JournalSegments, d)
	}
}

func testHistoryAndReadSerial(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	before := time.Now().Add(-time.Minute)
	var states []*state.State
	st, _ := read(t, a)
	for i := range 3 {
		st = next(st, put("null.resource.r", fmt.Sprint(i)))
		if err := a.Write(t.Context(), l, st); err != nil {
			t.Fatal(err)
		}
		states = append(states, st)
	}
	h, err := b.History(t.Context(), dep)
	if err != nil {
		t.Fatalf("History: %v", err)
	}
	if len(h) != 3 {
		t.Fatalf("History has %d entries, want 3: %+v", len(h), h)
	}
	for i, e := range h {
		if e.Serial != uint64(i+1) || e.Lineage != st.Lineage || e.Size <= 0 || e.Time.Before(before) || e.Problem != "" ||
			e.URL != b.ObjectURL(statestore.SnapshotKey(dep, e.Serial)) {
			t.Errorf("History[%d] = %+v; want serial %d, lineage %s, a size and a time", i, e, i+1, st.Lineage)
		}
	}
	for i, want := range states {
		got, err := b.ReadSerial(t.Context(), dep, uint64(i+1))
		if err != nil {
			t.Fatalf("ReadSerial(%d): %v", i+1, err)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ReadSerial(%d) (-want +got):\n%s", i+1, d)
		}
	}
	_, err = b.ReadSerial(t.Context(), dep, 9)
	wantContains(t, err, "serial 9", "ferry state history")
}

func testDeployments(t *testing.T, a, b *statestore.Store) {
	for _, d := range []string{"beta", "alpha"} {
		l, err := a.Lock(t.Context(), d, statestore.LockInfo{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := a.Write(t.Context(), l, &state.State{Serial: 1, Resources: map[string]*state.Resource{}}); err != nil {
			t.Fatal(err)
		}
		if err := l.Release(t.Context()); err != nil {
			t.Fatal(err)
		}
	}
	lg, err := a.Lock(t.Context(), "gamma", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	got, err := b.Deployments(t.Context())
	if d := cmp.Diff([]string{"alpha", "beta", "gamma"}, got); err != nil || d != "" {
		t.Errorf("Deployments with gamma locked: %v (-want +got):\n%s", err, d)
	}
	if err := lg.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, err = b.Deployments(t.Context())
	if d := cmp.Diff([]string{"alpha", "beta"}, got); err != nil || d != "" {
		t.Errorf("Deployments after releasing gamma: %v (-want +got):\n%s", err, d)
	}
}

func testCorruptedSnapshot(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	st := written(t, a, l, 2)
	good, err := state.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	key := statestore.SnapshotKey(dep, 2)
	url := b.ObjectURL(key)
	for _, bad := range []struct{ name, data string }{
		{"garbage", "{not json"},
		{"truncated", string(good[:len(good)/2])},
		{"empty", ""},
		{"wrong serial", strings.Replace(string(good), `"serial": 2`, `"serial": 7`, 1)},
	} {
		if err := a.PutObjectForTesting(t.Context(), key, []byte(bad.data)); err != nil {
			t.Fatal(err)
		}
		_, _, err := b.Read(t.Context(), dep)
		wantContains(t, err, url, "ferry state history", "ferry state push")
		_, err = b.ReadSerial(t.Context(), dep, 2)
		wantContains(t, err, url)
		h, err := b.History(t.Context(), dep)
		if err != nil || len(h) != 2 || h[0].Problem != "" {
			t.Fatalf("%s: History = %+v, %v; want 2 entries, the first fine", bad.name, h, err)
		}
		if bad.name != "truncated" && h[1].Problem == "" {
			t.Errorf("%s: History does not flag the damaged snapshot: %+v", bad.name, h[1])
		}
		wantConflict(t, a.Write(t.Context(), l, next(states1(t, b))), bad.name+": Write of serial 2 over the damaged one")
	}
	// `ferry state push` repairs: serial 3 on top of the damaged serial 2.
	repaired := next(st)
	if err := a.Write(t.Context(), l, repaired); err != nil {
		t.Fatalf("Write of serial 3 over a damaged serial 2: %v", err)
	}
	got, _ := read(t, b)
	if d := cmp.Diff(repaired, got); d != "" {
		t.Errorf("Read after repair (-want +got):\n%s", d)
	}
}

// states1 reads serial 1.
func states1(t *testing.T, s *statestore.Store) *state.State {
	t.Helper()
	st, err := s.ReadSerial(t.Context(), dep, 1)
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func testCorruptedSegment(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	base := written(t, a, l, 1)
	j, err := a.OpenJournal(t.Context(), l, base)
	if err != nil {
		t.Fatal(err)
	}
	for range 2 {
		if err := j.Append(t.Context(), []state.Change{put("null.resource.x", "X")}); err != nil {
			t.Fatal(err)
		}
	}
	key := statestore.JournalSegmentKey(dep, base.Lineage, base.Serial, 2)
	// A whole line that is no record (on file:// a last line without its
	// newline is an append in progress, not damage).
	if err := a.PutObjectForTesting(t.Context(), key, []byte("{\"changes\": [\n")); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Read(t.Context(), dep)
	wantContains(t, err, b.ObjectURL(key), "ferry state push")

	// A segment object cut short: damage on a bucket, where objects are
	// written whole; on file://, the last line of the last segment without
	// its newline is a record still being written, and Read ends before it.
	if err := a.PutObjectForTesting(t.Context(), key, []byte(`{"changes": [`)); err != nil {
		t.Fatal(err)
	}
	_, _, err = b.Read(t.Context(), dep)
	if strings.HasPrefix(b.ObjectURL(key), "file://") {
		if err != nil {
			t.Errorf("file://: Read of a journal whose last record is being written: %v", err)
		}
	} else {
		wantContains(t, err, b.ObjectURL(key), "ferry state push")
	}
}

func testBytesWritten(t *testing.T, a, _ *statestore.Store) {
	l := lock(t, a, "apply")
	st := next(&state.State{Resources: map[string]*state.Resource{}}, put("null.resource.a", "A"))
	before := a.BytesWritten()
	if err := a.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	data, err := state.Encode(st)
	if err != nil {
		t.Fatal(err)
	}
	if got := a.BytesWritten() - before; got < int64(len(data)) || got > int64(len(data))+1024 {
		t.Errorf("Write of a %d-byte snapshot counted %d bytes", len(data), got)
	}
}

func testPlanKey(t *testing.T, a, b *statestore.Store) {
	if _, err := a.PlanKey(t.Context(), nil, dep); err == nil {
		t.Errorf("PlanKey without a lock succeeded")
	}
	l := lock(t, a, "plan")
	key, err := a.PlanKey(t.Context(), l, dep)
	if err != nil {
		t.Fatalf("PlanKey: %v", err)
	}
	if len(key) != statestore.PlanKeySize || bytes.Equal(key, make([]byte, statestore.PlanKeySize)) {
		t.Fatalf("PlanKey returned %d bytes (all zero: %v), want %d random ones", len(key), bytes.Equal(key, make([]byte, len(key))), statestore.PlanKeySize)
	}
	again, err := a.PlanKey(t.Context(), l, dep)
	if err != nil || !bytes.Equal(again, key) {
		t.Errorf("second PlanKey: a different key (%v)", err)
	}
	read, ok, err := b.ReadPlanKey(t.Context(), dep)
	if err != nil || !ok || !bytes.Equal(read, key) {
		t.Errorf("ReadPlanKey from the other client: ok %v, %v, same key %v", ok, err, bytes.Equal(read, key))
	}
	if _, err := a.PlanKey(t.Context(), l, "other"); err == nil {
		t.Errorf("PlanKey of another deployment under this one's lock succeeded")
	}
	lo, err := a.Lock(t.Context(), "other", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lo.Release(context.Background())
	other, err := a.PlanKey(t.Context(), lo, "other")
	if err != nil || bytes.Equal(other, key) {
		t.Errorf("PlanKey of another deployment: %v, same key %v; want its own", err, bytes.Equal(other, key))
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if _, err := a.PlanKey(t.Context(), l, dep); err == nil {
		t.Errorf("PlanKey with a released lock succeeded")
	}
}

// testPlanKeyRace: two runs that both find no key create one each; both
// must end up with the same.
func testPlanKeyRace(t *testing.T, a, b *statestore.Store) {
	for round := range 3 {
		d := fmt.Sprintf("race%d", round)
		la, err := a.Lock(t.Context(), d, statestore.LockInfo{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		if err := b.Unlock(t.Context(), d, la.Info.ID); err != nil {
			t.Fatal(err)
		}
		lb, err := b.Lock(t.Context(), d, statestore.LockInfo{}, 0) // both now believe they hold it
		if err != nil {
			t.Fatal(err)
		}
		keys := make([][]byte, 2)
		errs := make([]error, 2)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, w := range []struct {
			s *statestore.Store
			l *statestore.Lock
		}{{a, la}, {b, lb}} {
			wg.Go(func() {
				<-start
				keys[i], errs[i] = w.s.PlanKey(t.Context(), w.l, d)
			})
		}
		close(start)
		wg.Wait()
		if errs[0] != nil || errs[1] != nil {
			t.Fatalf("round %d: PlanKey: %v; %v", round, errs[0], errs[1])
		}
		if !bytes.Equal(keys[0], keys[1]) || len(keys[0]) != statestore.PlanKeySize {
			t.Errorf("round %d: racing PlanKey calls returned different keys", round)
		}
		_ = lb.Release(context.Background())
	}
}

func testCorruptedPlanKey(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "plan")
	key := statestore.PlanKeyKey(dep)
	url := a.ObjectURL(key)
	// "c2VjcmV0LXNob3J0" is base64 of a short secret: errors must not show it.
	for _, bad := range []string{
		`{garbage c2VjcmV0LXNob3J0`,
		`{"format_version": 1, "key": "c2VjcmV0LXNob3J0"}`,
		`{"format_version": 1, "key": "!!c2VjcmV0LXNob3J0"}`,
		`{"key": "c2VjcmV0LXNob3J0"}`,
		``,
	} {
		if err := a.PutObjectForTesting(t.Context(), key, []byte(bad)); err != nil {
			t.Fatal(err)
		}
		_, _, err := b.ReadPlanKey(t.Context(), dep)
		wantContains(t, err, url, "delete it", "ferry plan")
		_, err = a.PlanKey(t.Context(), l, dep)
		wantContains(t, err, url, "delete it")
		if err != nil && strings.Contains(err.Error(), "c2VjcmV0") {
			t.Errorf("error %q shows the key object's content", err)
		}
	}
	if err := a.PutObjectForTesting(t.Context(), key, []byte(`{"format_version": 2, "key": "c2VjcmV0LXNob3J0"}`)); err != nil {
		t.Fatal(err)
	}
	_, _, err := b.ReadPlanKey(t.Context(), dep)
	wantContains(t, err, url, "upgrade ferry")
}

// fullDeployment gives dep three snapshots, a journal with unfolded work,
// a hint and a plan key.
func fullDeployment(t *testing.T, s *statestore.Store, l *statestore.Lock) {
	t.Helper()
	base := written(t, s, l, 3)
	j, err := s.OpenJournal(t.Context(), l, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []state.Change{put("null.resource.x", "X"), del("null.resource.r1")} {
		if err := j.Append(t.Context(), []state.Change{c}); err != nil {
			t.Fatal(err)
		}
	}
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanKey(t.Context(), l, dep); err != nil {
		t.Fatal(err)
	}
}

func wantGone(t *testing.T, s *statestore.Store, d string) {
	t.Helper()
	st, info, err := s.Read(t.Context(), d)
	if err != nil || st.Serial != 0 || len(st.Resources) != 0 || info.Snapshot != "" || info.JournalSegments != 0 {
		t.Errorf("Read of deleted deployment %q: serial %d, %d resources, %+v, %v; want an empty deployment", d, st.Serial, len(st.Resources), info, err)
	}
	if h, err := s.History(t.Context(), d); err != nil || len(h) != 0 {
		t.Errorf("History of deleted deployment %q = %+v, %v", d, h, err)
	}
	if li, err := s.LockInfo(t.Context(), d); li != nil || err != nil {
		t.Errorf("LockInfo of deleted deployment %q = %+v, %v; want no lock", d, li, err)
	}
	if _, ok, err := s.ReadPlanKey(t.Context(), d); ok || err != nil {
		t.Errorf("ReadPlanKey of deleted deployment %q: ok %v, %v; want none", d, ok, err)
	}
}

func testDeleteDeployment(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	fullDeployment(t, a, l)
	lk, err := a.Lock(t.Context(), "keep", statestore.LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	kept := &state.State{FormatVersion: state.FormatVersion, Serial: 1, Resources: map[string]*state.Resource{"null.resource.k": res("K")}}
	if err := a.Write(t.Context(), lk, kept); err != nil {
		t.Fatal(err)
	}
	if err := lk.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	keepKey := func() []byte {
		l, err := a.Lock(t.Context(), "keep", statestore.LockInfo{}, 0)
		if err != nil {
			t.Fatal(err)
		}
		defer l.Release(context.Background())
		k, err := a.PlanKey(t.Context(), l, "keep")
		if err != nil {
			t.Fatal(err)
		}
		return k
	}()

	if err := a.DeleteDeployment(t.Context(), l); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	got, err := b.Deployments(t.Context())
	if d := cmp.Diff([]string{"keep"}, got); err != nil || d != "" {
		t.Errorf("Deployments after the delete: %v (-want +got):\n%s", err, d)
	}
	wantGone(t, b, dep)
	if err := l.Release(t.Context()); err != nil {
		t.Errorf("Release after DeleteDeployment: %v, want a no-op", err)
	}
	if err := a.Write(t.Context(), l, &state.State{Serial: 1, Resources: map[string]*state.Resource{}}); err == nil {
		t.Errorf("Write with the lock DeleteDeployment released succeeded")
	}
	// The other deployment is untouched.
	st, _, err := b.Read(t.Context(), "keep")
	if d := cmp.Diff(kept, st); err != nil || d != "" {
		t.Errorf("Read of the other deployment: %v (-want +got):\n%s", err, d)
	}
	if k, ok, err := b.ReadPlanKey(t.Context(), "keep"); err != nil || !ok || !bytes.Equal(k, keepKey) {
		t.Errorf("the other deployment's plan key changed: ok %v, %v", ok, err)
	}
	// The name can be used again, from scratch.
	l2 := lock(t, b, "apply")
	st, _ = read(t, b)
	if err := b.Write(t.Context(), l2, next(st)); err != nil {
		t.Errorf("first Write after the delete: %v", err)
	}
	if k, err := b.PlanKey(t.Context(), l2, dep); err != nil || len(k) != statestore.PlanKeySize {
		t.Errorf("PlanKey after the delete: %v", err)
	}
}

// testDeleteDeploymentWithoutSnapshot: a deployment whose first apply
// crashed is only a journal.
func testDeleteDeploymentWithoutSnapshot(t *testing.T, a, b *statestore.Store) {
	l := lock(t, a, "apply")
	base, _ := read(t, a)
	j, err := a.OpenJournal(t.Context(), l, base)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []state.Change{put("null.resource.a", "A"), put("null.resource.b", "B")} {
		if err := j.Append(t.Context(), []state.Change{c}); err != nil {
			t.Fatal(err)
		}
	}
	_ = j.Close()
	if err := a.DeleteDeployment(t.Context(), l); err != nil {
		t.Fatalf("DeleteDeployment: %v", err)
	}
	if got, err := b.Deployments(t.Context()); err != nil || len(got) != 0 {
		t.Errorf("Deployments after the delete = %q, %v; want none", got, err)
	}
	wantGone(t, b, dep)
}

func testDeleteDeploymentNeedsItsLock(t *testing.T, a, b *statestore.Store) {
	if err := a.DeleteDeployment(t.Context(), nil); err == nil {
		t.Errorf("DeleteDeployment without a lock succeeded")
	}
	la := lock(t, a, "apply")
	fullDeployment(t, a, la)
	before, _ := read(t, b)
	lb := breakAndTake(t, b, la)
	err := a.DeleteDeployment(t.Context(), la)
	wantContains(t, err, "nothing deleted", lb.Info.ID)
	after, _ := read(t, b)
	if d := cmp.Diff(before, after); d != "" {
		t.Errorf("a DeleteDeployment with a broken lock changed the state (-before +after):\n%s", d)
	}
	if k, ok, err := b.ReadPlanKey(t.Context(), dep); err != nil || !ok || len(k) != statestore.PlanKeySize {
		t.Errorf("a DeleteDeployment with a broken lock removed the plan key: ok %v, %v", ok, err)
	}
	if li, _ := b.LockInfo(t.Context(), dep); li == nil || li.ID != lb.Info.ID {
		t.Errorf("a DeleteDeployment with a broken lock changed the lock: %+v", li)
	}
}
