package statestore

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// flickerBackend is a bucket whose lock object "exists" to every create
// and is "not found" by every get: another process creating and deleting
// it over and over, or a bucket that does not read its own writes.
type flickerBackend struct {
	backend
	requests atomic.Int64
	// onRequest, when set, sees the number of each request.
	onRequest func(n int64)
}

// flickerLimit stops a Lock that never gives up, so that the test fails
// instead of hanging.
const flickerLimit = 1000

var errTooMany = errors.New("too many requests")

func (f *flickerBackend) count() error {
	n := f.requests.Add(1)
	if f.onRequest != nil {
		f.onRequest(n)
	}
	if n > flickerLimit {
		return errTooMany
	}
	return nil
}

func (f *flickerBackend) create(context.Context, string, []byte, bool) error {
	if err := f.count(); err != nil {
		return err
	}
	return errExists
}

func (f *flickerBackend) get(context.Context, string) ([]byte, error) {
	if err := f.count(); err != nil {
		return nil, err
	}
	return nil, errNotFound
}

// TestLockObjectFlickers: a lock object that keeps appearing and
// disappearing must not make Lock spin: it backs off like any other wait,
// stops at its deadline or when ctx ends, and says what is going on.
func TestLockObjectFlickers(t *testing.T) {
	newFlicker := func(t *testing.T) (*Store, *flickerBackend) {
		fb := &flickerBackend{backend: newDirBackend(t.TempDir())}
		return newStore(fb, "file:///test"), fb
	}
	wantMessage := func(t *testing.T, s *Store, err error) {
		t.Helper()
		if err == nil {
			t.Fatal("Lock succeeded on a lock object that is never there")
		}
		for _, w := range []string{`"d"`, s.b.objectURL(LockKey("d")), "keeps appearing and disappearing", "attempts", "stop the other ferry runs"} {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("error %q does not contain %q", err, w)
			}
		}
	}

	t.Run("no wait", func(t *testing.T) {
		s, fb := newFlicker(t)
		_, err := s.Lock(t.Context(), "d", LockInfo{}, 0)
		wantMessage(t, s, err)
		// One create and one get, then one immediate retry.
		if n := fb.requests.Load(); n > 4 {
			t.Errorf("Lock with no wait made %d requests, want at most 4", n)
		}
	})

	t.Run("wait", func(t *testing.T) {
		s, fb := newFlicker(t)
		const wait = 300 * time.Millisecond
		start := time.Now()
		_, err := s.Lock(t.Context(), "d", LockInfo{}, wait)
		waited := time.Since(start)
		wantMessage(t, s, err)
		if waited < wait {
			t.Errorf("Lock gave up after %v, before its %v wait", waited, wait)
		}
		// Pauses of at least firstPause (the last may be cut short), each
		// followed by at most two attempts of two requests.
		if n, max := fb.requests.Load(), int64(4*(wait/firstPause+2)); n > max {
			t.Errorf("Lock with a %v wait made %d requests, want at most %d", wait, n, max)
		}
	})

	t.Run("context ends", func(t *testing.T) {
		s, fb := newFlicker(t)
		ctx, cancel := context.WithCancel(t.Context())
		defer cancel()
		const cancelAt = 6
		fb.onRequest = func(n int64) {
			if n == cancelAt {
				cancel()
			}
		}
		_, err := s.Lock(ctx, "d", LockInfo{}, time.Hour)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("Lock after its context ended: %v, want context.Canceled", err)
		}
		wantMessage(t, s, err)
		if n := fb.requests.Load(); n > cancelAt+4 {
			t.Errorf("Lock made %d requests, %d after its context ended", n, n-cancelAt)
		}
	})
}
