package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"os/user"
	"time"

	"github.com/nixferry/ferry/engine/statestore"
)

// lock takes the deployment's state lock for op, waiting up to timeout,
// and reports a stale lock of a crashed run that it broke on the way.
func (e *Engine) lock(ctx context.Context, dep, op string, timeout time.Duration) (*statestore.Lock, error) {
	said := false
	l, err := e.Store.LockWith(ctx, dep, NewLockInfo(op, e.Version, e.now()), statestore.LockOptions{
		Wait: timeout,
		Waiting: func(h statestore.LockInfo) {
			if !said {
				said = true
				e.emit(Event{Kind: EventLockWait, Message: fmt.Sprintf("waiting up to %s for the lock of deployment %q, held by %s (pid %d) for %s", timeout, dep, h.Who, h.PID, h.Operation)})
			}
		},
	})
	if err == nil && l.BrokeStale != nil {
		b := l.BrokeStale
		e.emit(Event{Kind: EventLockBroken, Message: fmt.Sprintf("broke lock %s of deployment %q: its holder %s (pid %d, %s) is no longer running", b.ID, dep, b.Who, b.PID, b.Operation)})
	}
	return l, err
}

// NewLockInfo describes this process as a lock holder.
func NewLockInfo(op, version string, now time.Time) statestore.LockInfo {
	host, _ := os.Hostname()
	who := "unknown"
	if u, err := user.Current(); err == nil {
		who = u.Username
	}
	var id [8]byte
	_, _ = rand.Read(id[:])
	return statestore.LockInfo{
		ID:        hex.EncodeToString(id[:]),
		Who:       who + "@" + host,
		Host:      host,
		PID:       os.Getpid(),
		Operation: op,
		Created:   now.UTC(),
		Version:   version,
	}
}
