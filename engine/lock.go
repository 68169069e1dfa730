package engine

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"os/user"
	"time"

	"github.com/nixferry/ferry/engine/statestore"
)

// lock takes the deployment's state lock for op, waiting up to timeout.
func (e *Engine) lock(ctx context.Context, dep, op string, timeout time.Duration) (*statestore.Lock, error) {
	return e.Store.Lock(ctx, dep, NewLockInfo(op, e.Version, e.now()), timeout)
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
