package machines

import (
	"context"
	"net"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"golang.org/x/sync/semaphore"

	"github.com/nixferry/ferry/remote"
)

// testSlots is a Slots of n, as the core's named limits are.
type testSlots struct{ sem *semaphore.Weighted }

func (s testSlots) Acquire(ctx context.Context) (func(), error) {
	if err := s.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { s.sem.Release(1) }, nil
}

// TestReadHostsHoldTheLimit: plan reads hosts at most as many at once as
// the host-read limit allows, a slot held from the connection to the end
// of the read. The hosts here accept a connection, hold it for a while
// without speaking SSH and close it, so every read fails, as an
// unreachable host's does: planned anyway, with the reason.
func TestReadHostsHoldTheLimit(t *testing.T) {
	var mu sync.Mutex
	var open, most int
	targets := map[string]remote.Target{}
	for i := range 6 {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { l.Close() })
		go func() {
			for {
				c, err := l.Accept()
				if err != nil {
					return
				}
				go func() {
					mu.Lock()
					open++
					most = max(most, open)
					mu.Unlock()
					time.Sleep(100 * time.Millisecond)
					mu.Lock()
					open-- // before the client can see the close
					mu.Unlock()
					c.Close()
				}()
			}
		}()
		targets["machine.m"+string(rune('0'+i))] = remote.Target{Host: "127.0.0.1", Port: l.Addr().(*net.TCPAddr).Port, User: "root"}
	}
	key := filepath.Join(t.TempDir(), "id_ed25519")
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key).CombinedOutput(); err != nil {
		t.Skipf("ssh-keygen: %v: %s", err, out)
	}
	d := remote.NewDialer(remote.Options{KeyFiles: []string{key}, NoAgent: true, ConnectTimeout: 5 * time.Second})
	defer d.Close()
	for _, limit := range []int64{2, 1, 0} {
		mu.Lock()
		most = 0
		mu.Unlock()
		b := &planner{pl: &Pipeline{SSH: d}}
		if limit > 0 {
			b.reads = testSlots{semaphore.NewWeighted(limit)}
		}
		read := b.readHosts(t.Context(), targets)()
		if len(read) != len(targets) {
			t.Fatalf("limit %d: %d hosts read, want %d", limit, len(read), len(targets))
		}
		for addr, h := range read {
			if h.err == nil {
				t.Errorf("limit %d: %s read without SSH there", limit, addr)
			}
		}
		mu.Lock()
		got := most
		mu.Unlock()
		switch {
		case limit == 0 && got < 3:
			t.Errorf("no limit: %d hosts read at once; the test cannot see a limit", got)
		case limit > 0 && (got > int(limit) || got < 1):
			t.Errorf("limit %d: %d hosts read at once", limit, got)
		}
	}
}
