package statestore

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/state"
	"gocloud.dev/blob/memblob"
)

// crashingBackend fails every delete after the first allowed ones, as if
// the run were killed there.
type crashingBackend struct {
	backend
	mu      sync.Mutex // DeleteDeployment deletes old snapshots in parallel
	allowed int        // deletes left; negative: no limit
}

var errCrashed = errors.New("crashed")

func (c *crashingBackend) step() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.allowed == 0 {
		return errCrashed
	}
	c.allowed--
	return nil
}

func (c *crashingBackend) remove(ctx context.Context, key string) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.backend.remove(ctx, key)
}

func (c *crashingBackend) removeAll(ctx context.Context, dir string) error {
	if err := c.step(); err != nil {
		return err
	}
	return c.backend.removeAll(ctx, dir)
}

// TestDeleteDeploymentCrashes stops DeleteDeployment after each number of
// deletes in turn: what is left reads either as the deployment before the
// delete or as nothing, never as an error or an older state, and running
// the delete again finishes it.
func TestDeleteDeploymentCrashes(t *testing.T) {
	backends := map[string]func(t *testing.T) backend{
		"file": func(t *testing.T) backend { return newDirBackend(t.TempDir()) },
		"mem":  func(t *testing.T) backend { return newBlobBackend(memblob.OpenBucket(nil), "mem://") },
	}
	for name, newBackend := range backends {
		for _, snapshots := range []int{3, 0} {
			t.Run(fmt.Sprintf("%s/%d snapshots", name, snapshots), func(t *testing.T) {
				for allowed := 0; ; allowed++ {
					if done := deleteCrashingAfter(t, newBackend(t), snapshots, allowed); done {
						if allowed < 3 {
							t.Errorf("the delete finished after %d deletes", allowed)
						}
						return
					}
				}
			})
		}
	}
}

// deleteCrashingAfter builds a deployment with the given number of
// snapshots, a journal on the latest, a stale journal, a hint and a plan
// key, deletes it crashing after allowed deletes and checks what is left.
// It reports whether the delete finished.
func deleteCrashingAfter(t *testing.T, b backend, snapshots, allowed int) bool {
	t.Helper()
	ctx := context.Background()
	cb := &crashingBackend{backend: b, allowed: -1}
	s := newStore(cb, "test://")
	l, err := s.Lock(ctx, "d", LockInfo{}, 0)
	if err != nil {
		t.Fatal(err)
	}
	st := &state.State{Resources: map[string]*state.Resource{}}
	for i := range snapshots {
		st = st.Clone()
		st.Serial++
		st.ApplyChange(state.Change{Addr: fmt.Sprintf("null.resource.r%d", i), Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{}}})
		if err := s.Write(ctx, l, st); err != nil {
			t.Fatal(err)
		}
	}
	j, err := s.OpenJournal(ctx, l, st)
	if err != nil {
		t.Fatal(err)
	}
	if snapshots > 0 {
		// A journal a killed first apply left: were it still there when
		// the snapshots are gone, Read would replay it.
		if err := b.create(ctx, JournalSegmentKey("d", "", 0, 1), []byte(`{"changes": [{"addr": "null.resource.ghost", "resource": {"type": "null.resource", "attrs": {}}}]}`+"\n"), false); err != nil {
			t.Fatal(err)
		}
	}
	for i := range 3 {
		c := state.Change{Addr: fmt.Sprintf("null.resource.j%d", i), Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{}}}
		if err := j.Append(ctx, []state.Change{c}); err != nil {
			t.Fatal(err)
		}
		_ = j.Close() // one segment per record on file:// too
	}
	if _, err := s.PlanKey(ctx, l, "d"); err != nil {
		t.Fatal(err)
	}
	before, _, err := s.Read(ctx, "d")
	if err != nil {
		t.Fatal(err)
	}

	cb.allowed = allowed
	err = s.DeleteDeployment(ctx, l)
	if err == nil {
		return true
	}
	if !errors.Is(err, errCrashed) {
		t.Fatalf("crash after %d deletes: %v", allowed, err)
	}
	got, _, err := newStore(b, "test://").Read(ctx, "d")
	switch {
	case err != nil:
		t.Errorf("crash after %d deletes: Read: %v", allowed, err)
	case snapshots == 0:
		// The journal is the whole deployment: a prefix of it is left.
		for addr := range got.Resources {
			if before.Resources[addr] == nil {
				t.Errorf("crash after %d deletes: Read found %s, which the deployment did not have", allowed, addr)
			}
		}
	case got.Serial == 0:
		if len(got.Resources) != 0 {
			t.Errorf("crash after %d deletes: an empty deployment with resources %q", allowed, got.Addrs())
		}
	default:
		if d := cmp.Diff(before, got); d != "" {
			t.Errorf("crash after %d deletes: Read is neither the deployment nor nothing (-before +got):\n%s", allowed, d)
		}
	}
	cb.allowed = -1
	if err := s.DeleteDeployment(ctx, l); err != nil {
		t.Fatalf("delete again after a crash after %d deletes: %v", allowed, err)
	}
	if ds, err := s.Deployments(ctx); err != nil || len(ds) != 0 {
		t.Errorf("Deployments after deleting again = %q, %v", ds, err)
	}
	return false
}
