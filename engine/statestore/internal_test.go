package statestore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
	"github.com/nixferry/ferry/engine/state"
	"gocloud.dev/blob/memblob"
)

func TestParseHeader(t *testing.T) {
	tests := []struct {
		name    string
		data    string
		want    header
		version int
		wantErr bool
	}{
		{"ferry order", `{"format_version": 1, "lineage": "L", "serial": 7, "resources": {}}`, header{serial: 7, lineage: "L"}, 1, false},
		{"other order", `{"resources": {"a": {"attrs": {"x": [1, {"y": 2}]}}}, "serial": 3, "outputs": {}, "lineage": "M", "format_version": 2}`, header{serial: 3, lineage: "M"}, 2, false},
		{"stops early", `{"format_version": 1, "lineage": "L", "serial": 7, "resources": {"a": `, header{serial: 7, lineage: "L"}, 1, false},
		{"cut before serial", `{"format_version": 1, "lineage": "L", "ser`, header{}, 0, true},
		{"missing serial", `{"format_version": 1, "lineage": "L"}`, header{}, 0, true},
		{"negative serial", `{"format_version": 1, "lineage": "L", "serial": -1}`, header{}, 0, true},
		{"string serial", `{"format_version": 1, "lineage": "L", "serial": "7"}`, header{}, 0, true},
		{"numeric lineage", `{"format_version": 1, "lineage": 5, "serial": 7}`, header{}, 0, true},
		{"array", `[1, 2]`, header{}, 0, true},
		{"empty", ``, header{}, 0, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h, v, err := parseHeader([]byte(tt.data))
			if (err != nil) != tt.wantErr {
				t.Fatalf("parseHeader error = %v, want error %v", err, tt.wantErr)
			}
			if err == nil && (h != tt.want || v != tt.version) {
				t.Errorf("parseHeader = %+v, version %d; want %+v, version %d", h, v, tt.want, tt.version)
			}
		})
	}
}

func TestCheckDeployment(t *testing.T) {
	for name, ok := range map[string]bool{
		"default": true, "prod-eu.1_a": true, "A": true, strings.Repeat("x", 128): true,
		"": false, ".": false, "..": false, ".x": false, "-x": false, "a/b": false, `a\b`: false,
		"a b": false, "é": false, strings.Repeat("x", 129): false,
	} {
		if err := checkDeployment(name); (err == nil) != ok {
			t.Errorf("checkDeployment(%q) = %v, want ok %v", name, err, ok)
		}
	}
}

func TestFileRoot(t *testing.T) {
	for _, tt := range []struct{ url, root, err string }{
		{"file:///srv/ferry/.ferry", "/srv/ferry/.ferry", ""},
		{"file://localhost/srv/x/", "/srv/x", ""},
		{"file:///a/../b", "/b", ""},
		{"file://host/srv", "", "three slashes"},
		{"file:relative", "", "absolute"},
		{"file:///x?metadata=skip", "", "no query parameters"},
	} {
		s, err := Open(context.Background(), tt.url)
		if tt.err != "" {
			if err == nil || !strings.Contains(err.Error(), tt.err) {
				t.Errorf("Open(%s) = %v, want an error containing %q", tt.url, err, tt.err)
			}
			continue
		}
		if err != nil {
			t.Errorf("Open(%s): %v", tt.url, err)
			continue
		}
		if got := s.b.(*dirBackend).root; got != tt.root {
			t.Errorf("Open(%s) root = %s, want %s", tt.url, got, tt.root)
		}
	}
}

// TestCreateWithoutHardLinks covers filesystems that refuse link(2).
func TestCreateWithoutHardLinks(t *testing.T) {
	for _, errno := range []syscall.Errno{syscall.EPERM, syscall.ENOTSUP} {
		d := newDirBackend(t.TempDir())
		d.link = func(oldname, newname string) error {
			return &os.LinkError{Op: "link", Old: oldname, New: newname, Err: errno}
		}
		ctx := context.Background()
		if err := d.create(ctx, "a/b.json", []byte("one"), true); err != nil {
			t.Fatalf("%v: create: %v", errno, err)
		}
		if err := d.create(ctx, "a/b.json", []byte("two"), false); !errors.Is(err, errExists) {
			t.Errorf("%v: second create = %v, want errExists", errno, err)
		}
		got, err := d.get(ctx, "a/b.json")
		if err != nil || string(got) != "one" {
			t.Errorf("%v: get = %q, %v; want the first content", errno, got, err)
		}
		es, err := d.list(ctx, "a/")
		if err != nil || len(es) != 1 || es[0].name != "b.json" {
			t.Errorf("%v: list = %+v, %v; want only b.json (no temporary files)", errno, es, err)
		}
	}
}

// TestHeaderBeyondPrefix: a snapshot whose lineage and serial come after
// the first headerBytes (written by hand, keys in another order) is read
// whole.
func TestHeaderBeyondPrefix(t *testing.T) {
	s := newStore(newDirBackend(t.TempDir()), "file:///test")
	ctx := context.Background()
	pad := strings.Repeat("p", 2*headerBytes)
	data := fmt.Sprintf(`{"outputs": {"pad": %q}, "resources": {}, "format_version": 1, "lineage": "L", "serial": 1}`, pad)
	if err := s.b.create(ctx, SnapshotKey("d", 1), []byte(data), false); err != nil {
		t.Fatal(err)
	}
	h, err := s.readHeader(ctx, "d", 1)
	if err != nil || h != (header{serial: 1, lineage: "L"}) {
		t.Errorf("readHeader = %+v, %v; want serial 1, lineage L", h, err)
	}
}

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

func stateStores(t *testing.T) map[string]func() *Store {
	dir := t.TempDir()
	bkt := memblob.OpenBucket(nil)
	t.Cleanup(func() { _ = bkt.Close() })
	return map[string]func() *Store{
		"file": func() *Store { return newStore(newDirBackend(dir), "file://"+dir) },
		"mem":  func() *Store { return OpenBucket(bkt, "mem://") },
	}
}

func TestStaleLock(t *testing.T) {
	host, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}
	scope := atomicfile.ProcessScope()
	if scope == "" {
		t.Fatal("ProcessScope is empty: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	dead := deadPID(t)
	tests := []struct {
		name   string
		holder LockInfo
		broken bool
	}{
		{"dead process here", LockInfo{Host: host, PID: dead, Scope: scope}, true},
		{"live process here", LockInfo{Host: host, PID: os.Getpid(), Scope: scope}, false},
		{"other host", LockInfo{Host: "elsewhere", PID: dead, Scope: scope}, false},
		{"other boot or container", LockInfo{Host: host, PID: dead, Scope: "other-boot/pid:[1]"}, false},
		{"no scope recorded", LockInfo{Host: host, PID: dead}, false},
	}
	for name, open := range stateStores(t) {
		for i, tt := range tests {
			t.Run(name+"/"+tt.name, func(t *testing.T) {
				ctx := context.Background()
				s := open()
				dep := fmt.Sprintf("d%d", i)
				tt.holder.Operation = "apply"
				held, err := s.Lock(ctx, dep, tt.holder, 0)
				if err != nil {
					t.Fatal(err)
				}
				l, err := s.Lock(ctx, dep, LockInfo{Operation: "plan"}, 0)
				if !tt.broken {
					var le *LockedError
					if !errors.As(err, &le) || le.Info.ID != held.Info.ID {
						t.Fatalf("Lock over %+v = %v, want a *LockedError", tt.holder, err)
					}
					return
				}
				if err != nil {
					t.Fatalf("Lock over a dead process's lock: %v", err)
				}
				if d := cmp.Diff(&held.Info, l.BrokeStale); d != "" {
					t.Errorf("BrokeStale (-broken +reported):\n%s", d)
				}
				if cur, _ := s.LockInfo(ctx, dep); cur == nil || cur.ID != l.Info.ID {
					t.Errorf("LockInfo = %+v, want the new lock %s", cur, l.Info.ID)
				}
			})
		}
	}
}

// TestStaleLockBreakRace: several runs on this machine find the same stale
// lock at once; exactly one may end up holding the lock.
func TestStaleLockBreakRace(t *testing.T) {
	host, _ := os.Hostname()
	dead := deadPID(t)
	for name, open := range stateStores(t) {
		t.Run(name, func(t *testing.T) {
			ctx := context.Background()
			for round := range 5 {
				dep := fmt.Sprintf("r%d", round)
				if _, err := open().Lock(ctx, dep, LockInfo{Host: host, PID: dead, Scope: atomicfile.ProcessScope()}, 0); err != nil {
					t.Fatal(err)
				}
				const n = 6
				locks := make([]*Lock, n)
				var wg sync.WaitGroup
				start := make(chan struct{})
				for i := range n {
					s := open()
					wg.Go(func() {
						<-start
						locks[i], _ = s.Lock(ctx, dep, LockInfo{Operation: fmt.Sprint(i)}, 0)
					})
				}
				close(start)
				wg.Wait()
				var holders []string
				for _, l := range locks {
					if l != nil {
						holders = append(holders, l.Info.ID)
					}
				}
				if len(holders) != 1 {
					t.Fatalf("round %d: %d runs hold the lock after breaking a stale one, want 1", round, len(holders))
				}
				if cur, _ := open().LockInfo(ctx, dep); cur == nil || cur.ID != holders[0] {
					t.Errorf("round %d: lock object %+v is not the holder's %s", round, cur, holders[0])
				}
			}
		})
	}
}

// TestJournalLogRecoversFromFailedAppend: after a failed append the next
// one starts a new segment, and Read sees every record that was
// acknowledged.
func TestJournalLogRecoversFromFailedAppend(t *testing.T) {
	ctx := context.Background()
	s := newStore(newDirBackend(t.TempDir()), "file:///test")
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := s.Read(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.OpenJournal(ctx, l, base)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(addr string) []state.Change {
		return []state.Change{{Addr: addr, Resource: &state.Resource{Type: "t", Attrs: map[string]any{}}}}
	}
	if err := j.Append(ctx, rec("a")); err != nil {
		t.Fatal(err)
	}
	_ = j.log.f.Close() // the next write fails
	if err := j.Append(ctx, rec("lost")); err == nil {
		t.Fatal("Append to a closed segment file succeeded")
	}
	if err := j.Append(ctx, rec("b")); err != nil {
		t.Fatalf("Append after a failure: %v", err)
	}
	st, info, err := s.Read(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]string{"a", "b"}, st.Addrs()); d != "" || info.JournalSegments != 2 {
		t.Errorf("Read after a failed append: %d records (-want +got):\n%s", info.JournalSegments, d)
	}
	if _, err := os.Stat(filepath.Join(s.b.(*dirBackend).root, filepath.FromSlash(JournalSegmentKey("d", "", 0, 2)))); err != nil {
		t.Errorf("the append after the failure did not start segment 2: %v", err)
	}
}

// TestJournalReadWhileAppending: a reader that finds the last record of a
// segment half written (a write(2) in progress on file://) reads the
// records before it, and no damage; a record cut short before the last
// one is damage.
func TestJournalReadWhileAppending(t *testing.T) {
	ctx := context.Background()
	s := newStore(newDirBackend(t.TempDir()), "file:///test")
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	base, _, err := s.Read(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}
	j, err := s.OpenJournal(ctx, l, base)
	if err != nil {
		t.Fatal(err)
	}
	rec := func(addr string) []state.Change {
		return []state.Change{{Addr: addr, Resource: &state.Resource{Type: "t", Attrs: map[string]any{}}}}
	}
	if err := j.Append(ctx, rec("a")); err != nil {
		t.Fatal(err)
	}
	// Half of the next record, as a concurrent reader may find it.
	next, err := state.EncodeChanges(rec("b"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := j.log.f.Write(next[:len(next)/2]); err != nil {
		t.Fatal(err)
	}
	st, info, err := s.Read(ctx, "d")
	if err != nil {
		t.Fatalf("Read during an append: %v", err)
	}
	if d := cmp.Diff([]string{"a"}, st.Addrs()); d != "" || info.JournalChanges != 1 {
		t.Errorf("Read during an append: %d changes (-want +got):\n%s", info.JournalChanges, d)
	}
	// The write completes, then a new record follows: the half one was
	// the writer's, so the file now holds a damaged line before the last.
	if _, err := j.log.f.Write([]byte("\n")); err != nil {
		t.Fatal(err)
	}
	if err := j.Append(ctx, rec("c")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := s.Read(ctx, "d"); err == nil || !strings.Contains(err.Error(), "is corrupted") {
		t.Errorf("Read of a segment with a damaged record before the last: %v, want corrupted", err)
	}
}

// countingBackend counts the calls that grow with a deployment's history.
type countingBackend struct {
	backend
	lists, probes, gets int
}

func (c *countingBackend) list(ctx context.Context, dir string) ([]entry, error) {
	c.lists++
	return c.backend.list(ctx, dir)
}

func (c *countingBackend) exists(ctx context.Context, key string) (bool, error) {
	c.probes++
	return c.backend.exists(ctx, key)
}

func (c *countingBackend) get(ctx context.Context, key string) ([]byte, error) {
	c.gets++
	return c.backend.get(ctx, key)
}

// TestLatestWithLongHistory: with a hint, finding the latest of many
// snapshots costs a constant number of calls and no listing of state/;
// without one, a single listing.
func TestLatestWithLongHistory(t *testing.T) {
	ctx := context.Background()
	cb := &countingBackend{backend: newDirBackend(t.TempDir())}
	s := newStore(cb, "file:///test")
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Resources: map[string]*state.Resource{}}
	for range 100 {
		st = st.Clone()
		st.Serial++
		if err := s.Write(ctx, l, st); err != nil {
			t.Fatal(err)
		}
	}
	count := func(what string) (lists, exists, gets int) {
		*cb = countingBackend{backend: cb.backend}
		got, info, err := s.Read(ctx, "d")
		if err != nil || got.Serial != 100 || info.Snapshot == "" {
			t.Fatalf("%s: Read = serial %d, %+v, %v; want 100", what, got.Serial, info, err)
		}
		return cb.lists, cb.probes, cb.gets
	}
	// Hint, snapshot 100, probe 101; list the journal; read the snapshot.
	if lists, exists, gets := count("with hint"); lists != 1 || exists != 2 || gets != 2 {
		t.Errorf("with a hint Read made %d lists, %d exists, %d gets; want 1, 2, 2", lists, exists, gets)
	}
	if err := s.b.put(ctx, hintKey("d"), []byte(`{"serial": 90}`)); err != nil {
		t.Fatal(err)
	}
	if lists, exists, _ := count("stale hint"); lists != 1 || exists != 12 {
		t.Errorf("with a hint 10 behind Read made %d lists, %d exists; want 1, 12", lists, exists)
	}
	if err := s.b.remove(ctx, hintKey("d")); err != nil {
		t.Fatal(err)
	}
	if lists, exists, _ := count("no hint"); lists != 2 || exists != 1 {
		t.Errorf("without a hint Read made %d lists, %d exists; want 2 (state/, journal), 1", lists, exists)
	}
}
