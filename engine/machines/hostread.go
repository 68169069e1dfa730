package machines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// hostRead is what plan learned from one host: its facts, or why it could
// not read them.
type hostRead struct {
	facts   remote.HostFacts
	hostKey string // the key the host presented
	err     error
}

// readHosts starts reading every host in the background, one connection
// and one round trip (remote.Probe) each, at most as many at once as the
// host-read limit allows, and returns a function that waits for the
// reads. A host that cannot be reached is planned anyway, with the
// reason; apply reports it as failed and goes on with the others. A host
// presenting another key than the pinned one fails the plan.
func (b *planner) readHosts(ctx context.Context, targets map[string]remote.Target) func() map[string]*hostRead {
	out := make(map[string]*hostRead, len(targets))
	if b.pl.SSH == nil {
		return func() map[string]*hostRead { return out }
	}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for addr, t := range targets {
		wg.Add(1)
		go func() {
			defer wg.Done()
			h := &hostRead{}
			release, err := acquire(ctx, b.reads)
			if err == nil {
				var conn *remote.Conn
				conn, err = b.pl.SSH.Dial(ctx, t)
				if err == nil {
					h.hostKey = conn.HostKey()
					h.facts, err = remote.Probe(ctx, conn)
				}
				release()
			}
			h.err = err
			mu.Lock()
			out[addr] = h
			mu.Unlock()
		}()
	}
	return func() map[string]*hostRead {
		wg.Wait()
		return out
	}
}

// apply records what the host said in pm. It returns the message for a
// host key that differs from the pinned one (the plan then fails).
func (h *hostRead) apply(pm *plan.Machine) string {
	var mismatch *remote.HostKeyMismatchError
	switch {
	case errors.As(h.err, &mismatch):
		want, got := mismatch.Fingerprints()
		return fmt.Sprintf("%s (%s): the host presented key %s, but ferry pinned %s; if the host was reinstalled, check the new fingerprint out of band and run `ferry host-key pin %s`; otherwise someone may be intercepting the connection",
			pm.Addr, mismatch.Host, got, want, pm.Addr)
	case h.err != nil:
		pm.Reason = "host not reachable at plan time: " + h.err.Error()
		return ""
	}
	if pm.Target.HostKey == "" {
		pm.Target.HostKey = h.hostKey // trust on first use: apply enforces this key
	}
	pm.Current, pm.CurrentRead = h.facts.Current, true
	for _, w := range h.facts.PendingWatchdogs {
		if w.Alive {
			pm.Pending = w.String()
			break
		}
	}
	return ""
}

// HostKeyError fails a plan when hosts present other keys than the pinned
// ones.
type HostKeyError struct{ Messages []string }

func (e *HostKeyError) Error() string {
	if len(e.Messages) == 1 {
		return "host key changed: " + e.Messages[0]
	}
	return "host keys changed:\n  " + strings.Join(e.Messages, "\n  ")
}
