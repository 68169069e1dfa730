//go:build unix

package statestore

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
	"github.com/nixferry/ferry/engine/state"
)

// plant creates the file or, with a trailing '/', the folder rel under
// root, with mtime mod when it is not zero.
func plant(t *testing.T, root, rel string, mod time.Time) {
	t.Helper()
	p := filepath.Join(root, filepath.FromSlash(rel))
	if rel[len(rel)-1] == '/' {
		if err := os.MkdirAll(p, 0o700); err != nil {
			t.Fatal(err)
		}
		return
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte("partial"), 0o600); err != nil {
		t.Fatal(err)
	}
	if !mod.IsZero() {
		if err := os.Chtimes(p, mod, mod); err != nil {
			t.Fatal(err)
		}
	}
}

func exists(root, rel string) bool {
	_, err := os.Lstat(filepath.Join(root, filepath.FromSlash(rel)))
	return err == nil
}

// TestSweepOnLock: taking the lock removes the temporary files of dead
// runs of this host and scope, old temporary files of an older ferry and
// empty folders, and nothing else: not a live run's temporary file, not
// one of another host or container, and no journal that holds records.
func TestSweepOnLock(t *testing.T) {
	me := atomicfile.Self()
	if me.Tag == "" {
		t.Fatal("this process has no writer tag: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), ".ferry")
	s := newStore(newDirBackend(root), "file://"+root)
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Serial: 1, Resources: map[string]*state.Resource{}}
	if err := s.Write(ctx, l, st); err != nil {
		t.Fatal(err)
	}
	j, err := s.OpenJournal(ctx, l, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, []state.Change{{Addr: "null.resource.a", Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{}}}}); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	if err := l.Release(ctx); err != nil {
		t.Fatal(err)
	}

	// tempName is the name a writer of pid and tag gives a temporary file.
	tempName := func(pid int, tag string) string { return fmt.Sprintf(".tmp-%d-%s-a1b2c3", pid, tag) }
	dead := deadPID(t)
	old := time.Now().Add(-2 * legacyTempAge)
	segment := JournalSegmentKey("d", st.Lineage, 1, 1)
	removed := []string{
		"d/" + tempName(dead, me.Tag),
		"d/.tmp-123456789",                     // an older ferry's, two days old
		"d/journal/none-00000000000000000000/", // a run killed before its first record
	}
	kept := []string{
		"d/" + tempName(os.Getpid(), me.Tag),      // a live run's
		"d/" + tempName(dead, "0123456789abcdef"), // of another host or container
		"d/" + tempName(dead, "x"),                // of a writer whose scope is unknown
		"d/.tmp-987654321",                        // an older ferry's, fresh: maybe still writing
		"d/.tmp-not-ours",
		segment, // unfolded work
	}
	for _, rel := range removed {
		mod := time.Time{}
		if rel == "d/.tmp-123456789" {
			mod = old
		}
		plant(t, root, rel, mod)
	}
	for _, rel := range kept[:len(kept)-1] {
		plant(t, root, rel, time.Time{})
	}

	l, err = s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Release(ctx)
	for _, rel := range removed {
		if exists(root, rel) {
			t.Errorf("%s is still there after Lock, want it removed", rel)
		}
	}
	for _, rel := range kept {
		if !exists(root, rel) {
			t.Errorf("Lock removed %s", rel)
		}
	}
	got, info, err := s.Read(ctx, "d")
	if err != nil || info.JournalChanges != 1 || got.Resources["null.resource.a"] == nil {
		t.Errorf("Read after the sweep: %+v, %v; want the journal's record", info, err)
	}
}

// TestSweepKeepsALiveWritersFolder: a writer whose empty folder is swept
// between creating it and creating its file goes on.
func TestSweepKeepsALiveWritersFolder(t *testing.T) {
	root := t.TempDir()
	d := newDirBackend(root)
	removeFirst := true
	d.link = func(oldname, newname string) error {
		if removeFirst {
			removeFirst = false
			d.sweep(context.Background(), "d") // the empty state/ goes
		}
		return os.Link(oldname, newname)
	}
	if err := d.create(context.Background(), "d/state/00000000000000000001.json", []byte("{}"), false); err != nil {
		t.Fatalf("create with its folder swept: %v", err)
	}
	if !exists(root, "d/state/00000000000000000001.json") {
		t.Error("the object is missing")
	}
	es, _ := os.ReadDir(filepath.Join(root, "d"))
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	if d := cmp.Diff([]string{"state"}, names); d != "" {
		t.Errorf("the deployment folder holds (-want +got):\n%s", d)
	}
}

// TestOpenJournalDropsSupersededJournals: journals whose base snapshot a
// later one superseded (left by a run killed right after it wrote its
// snapshot) go when the next apply opens its journal; the journal of the
// latest snapshot and any newer one stay.
func TestOpenJournalDropsSupersededJournals(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	s := newStore(newDirBackend(root), "file://"+root)
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Resources: map[string]*state.Resource{}}
	for range 2 {
		st = st.Clone()
		st.Serial++
		if err := s.Write(ctx, l, st); err != nil {
			t.Fatal(err)
		}
	}
	superseded := []string{
		JournalSegmentKey("d", "", 0, 1),
		JournalSegmentKey("d", st.Lineage, 1, 1),
		JournalSegmentKey("d", "other", 2, 1), // serial 2 is st's: this base can never exist
	}
	current := JournalSegmentKey("d", st.Lineage, 2, 1)
	newer := JournalSegmentKey("d", st.Lineage, 3, 1) // another run's, whose snapshot this run has not seen
	for _, key := range append(superseded, current, newer) {
		plant(t, root, key, time.Time{})
	}
	if err := os.WriteFile(filepath.Join(root, current), []byte(`{"changes": []}`+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := s.OpenJournal(ctx, l, st); err != nil {
		t.Fatal(err)
	}
	for _, key := range superseded {
		if exists(root, filepath.Dir(key)) {
			t.Errorf("%s is still there after OpenJournal", filepath.Dir(key))
		}
	}
	for _, key := range []string{current, newer} {
		if !exists(root, key) {
			t.Errorf("OpenJournal removed %s", key)
		}
	}
}
