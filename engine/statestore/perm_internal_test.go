//go:build unix

package statestore

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"testing"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
	"github.com/nixferry/ferry/engine/state"
)

// wantPrivate checks that every file under root is 0600 and every folder,
// root included, 0700: state holds secrets' digests and resource
// attributes, and only its owner may read it.
func wantPrivate(t *testing.T, root string) {
	t.Helper()
	files := 0
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, err := de.Info()
		if err != nil {
			return err
		}
		want := fs.FileMode(0o600)
		if de.IsDir() {
			want = 0o700
		} else {
			files++
		}
		if got := info.Mode().Perm(); got != want {
			t.Errorf("%s has mode %04o, want %04o", p, got, want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files == 0 {
		t.Fatalf("no files under %s", root)
	}
}

// TestDirModes writes every kind of object the file:// backend holds (lock,
// snapshots, hint, journal segments, plan key, the host mutex of a broken
// stale lock, and temporary files on their way) and checks their modes. The test's umask is 0 so that the modes
// come from ferry, not from the umask.
func TestDirModes(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), ".ferry")
	d := newDirBackend(root)
	temps := 0
	d.link = func(oldname, newname string) error {
		info, err := os.Stat(oldname)
		if err != nil {
			return err
		}
		if temps++; info.Mode().Perm() != 0o600 {
			t.Errorf("temporary file %s has mode %04o, want 0600", oldname, info.Mode().Perm())
		}
		return os.Link(oldname, newname)
	}
	s := newStore(d, "file://"+root)
	ctx := context.Background()
	host, _ := os.Hostname()
	// A dead run's lock, broken by the next Lock (creates the host mutex).
	if _, err := s.Lock(ctx, "d", LockInfo{Host: host, PID: deadPID(t), Scope: atomicfile.ProcessScope()}, 0); err != nil {
		t.Fatal(err)
	}
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if l.BrokeStale == nil {
		t.Fatal("the dead run's lock was not broken")
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
	if err := j.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.PlanKey(ctx, l, "d"); err != nil {
		t.Fatal(err)
	}
	if temps == 0 {
		t.Error("no temporary file was seen")
	}
	for _, key := range []string{LockKey("d"), hintKey("d"), PlanKeyKey("d"), SnapshotKey("d", 1)} {
		if _, err := os.Stat(d.path(key)); err != nil {
			t.Errorf("%s was not written: %v", key, err)
		}
	}
	wantPrivate(t, root)
}

// TestDirModesWithoutHardLinks: the O_EXCL fallback writes private files
// too.
func TestDirModesWithoutHardLinks(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	root := filepath.Join(t.TempDir(), ".ferry")
	d := newDirBackend(root)
	d.link = func(oldname, newname string) error {
		return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: syscall.EPERM}
	}
	if err := d.create(context.Background(), "d/state/00000000000000000001.json", []byte("{}"), true); err != nil {
		t.Fatal(err)
	}
	wantPrivate(t, root)
}
