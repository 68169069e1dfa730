package statestore

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// LockInfo says who holds a deployment's lock. It is stored as JSON in the
// lock object.
type LockInfo struct {
	ID        string    `json:"id"`
	Who       string    `json:"who"` // user@host
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Operation string    `json:"operation"` // "apply", "plan", "state push", ...
	Created   time.Time `json:"created"`
	Version   string    `json:"version"` // of the ferry that took it
	// Scope names the PID namespace and boot that PID belongs to (Linux:
	// boot ID and PID namespace); a lock is only judged stale from inside
	// the same scope, so a container or another machine with the same
	// host name never breaks it.
	Scope string `json:"scope,omitempty"`
}

// Lock is a held deployment lock. Release it with a context that is not
// cancelled (context.WithoutCancel), so that ^C still releases it.
type Lock struct {
	// Info is what the lock object holds; Lock filled in what the caller
	// left empty (ID, Who, Host, PID, Created; Scope when PID is this
	// process).
	Info LockInfo
	// BrokeStale, when set, is the lock this one replaced: its process was
	// gone from this machine (a crashed run). Callers should say so.
	BrokeStale *LockInfo

	s          *Store
	deployment string
	released   atomic.Bool
}

// Deployment is the locked deployment.
func (l *Lock) Deployment() string { return l.deployment }

// LockedError is returned by Lock when another run holds the lock.
type LockedError struct {
	Deployment string
	Info       LockInfo
}

func (e *LockedError) Error() string {
	op := e.Info.Operation
	if op == "" {
		op = "an operation"
	}
	return fmt.Sprintf("deployment %q is locked by %s (pid %d) for %s, taken %s ago, lock ID %s; wait for that run, or run \"ferry unlock %s\" if that run is gone",
		e.Deployment, e.Info.Who, e.Info.PID, op, time.Since(e.Info.Created).Round(time.Second), e.Info.ID, e.Info.ID)
}

// LockOptions tune LockWith.
type LockOptions struct {
	// Wait is how long to keep trying while another run holds the lock; 0
	// tries once.
	Wait time.Duration
	// Waiting, when set, is called with the holder each time LockWith
	// finds the lock held by a live run and is about to pause before it
	// tries again: callers tell the user whom they wait for, and tests
	// act on a waiter that is known to wait instead of sleeping. It runs
	// on LockWith's goroutine and should return quickly.
	Waiting func(holder LockInfo)
}

// Lock is LockWith with only a wait.
func (s *Store) Lock(ctx context.Context, deployment string, info LockInfo, wait time.Duration) (*Lock, error) {
	return s.LockWith(ctx, deployment, info, LockOptions{Wait: wait})
}

// Lock pauses between attempts, from firstPause doubling up to maxPause:
// quick enough for a run that ends in a moment, a request a second at most
// on a long wait.
const (
	firstPause = 50 * time.Millisecond
	maxPause   = time.Second
)

// LockWith polls, until opts.Wait has passed or ctx ends, to take the
// deployment's lock. When the holder is a process of this machine that
// no longer exists, it breaks that lock and reports it in
// Lock.BrokeStale. Otherwise, when the wait runs out, the error is a
// *LockedError.
//
// Every retry but one between two pauses waits for the next pause (the
// one is for a lock released between this run's create and read), so
// that a lock object that keeps appearing and disappearing costs a few
// requests a second, not a busy loop. Once the lock is taken, LockWith
// removes what dead runs left in the deployment's folder (see sweep).
func (s *Store) LockWith(ctx context.Context, deployment string, info LockInfo, opts LockOptions) (*Lock, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, err
	}
	info, err := fillLockInfo(info)
	if err != nil {
		return nil, err
	}
	data, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, err
	}
	data = append(data, '\n')
	key := LockKey(deployment)
	start := time.Now()
	deadline := start.Add(opts.Wait)
	pause := firstPause
	scope := atomicfile.ProcessScope()
	var broke *LockInfo
	quick := true // the next retry may go without a pause
	for attempts := 1; ; attempts++ {
		err := s.create(ctx, key, data, false)
		if err == nil {
			s.b.sweep(ctx, deployment)
			return &Lock{Info: info, BrokeStale: broke, s: s, deployment: deployment}, nil
		}
		if !errors.Is(err, errExists) {
			return nil, fmt.Errorf("lock deployment %q at %s: %w", deployment, s.b.objectURL(key), err)
		}
		holder, err := s.readLock(ctx, deployment)
		switch {
		case errors.Is(err, errNotFound):
			holder = nil // released in between
		case err != nil:
			return nil, err
		case isStale(holder, scope):
			broken, err := s.breakStale(ctx, deployment, holder)
			if err != nil {
				return nil, err
			}
			if broken {
				broke = holder
			}
			holder = nil
		}
		if holder == nil && quick {
			quick = false
			continue
		}
		// Why this run cannot have the lock yet.
		blocked := func() error {
			if holder != nil {
				return &LockedError{Deployment: deployment, Info: *holder}
			}
			return fmt.Errorf("lock deployment %q: the lock object %s keeps appearing and disappearing (%d attempts in %v): another process creates and deletes it over and over; stop the other ferry runs on this deployment and try again, and if there are none, check that the state bucket returns an object right after it was written",
				deployment, s.b.objectURL(key), attempts, time.Since(start).Round(time.Millisecond))
		}
		remaining := time.Until(deadline)
		if remaining <= 0 {
			return nil, blocked()
		}
		if holder != nil && opts.Waiting != nil {
			opts.Waiting(*holder)
		}
		if err := sleep(ctx, min(pause, remaining)); err != nil {
			return nil, fmt.Errorf("%w while waiting: %w", blocked(), err)
		}
		pause = min(2*pause, maxPause)
		quick = true
	}
}

// sleep waits for d or until ctx ends, whichever comes first; an ended ctx
// wins even when d is also over.
func sleep(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

func fillLockInfo(info LockInfo) (LockInfo, error) {
	if info.ID == "" {
		var b [8]byte
		if _, err := rand.Read(b[:]); err != nil {
			return info, err
		}
		info.ID = hex.EncodeToString(b[:])
	}
	if info.Host == "" {
		h, err := os.Hostname()
		if err != nil {
			h = "unknown-host"
		}
		info.Host = h
	}
	if info.Who == "" {
		name := os.Getenv("USER")
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
		info.Who = name + "@" + info.Host
	}
	if info.PID == 0 {
		info.PID = os.Getpid()
	}
	if info.PID == os.Getpid() && info.Scope == "" {
		info.Scope = atomicfile.ProcessScope()
	}
	if info.Created.IsZero() {
		info.Created = time.Now().UTC().Truncate(time.Millisecond)
	}
	return info, nil
}

// isStale says whether holder is a lock whose process is known to be gone:
// same host and scope as here, and no such PID.
func isStale(holder *LockInfo, scope string) bool {
	host, err := os.Hostname()
	if err != nil || holder.Host != host || holder.PID <= 0 || holder.Scope != scope {
		return false
	}
	return !atomicfile.ProcessAlive(holder.PID)
}

// breakStale deletes the stale lock holder, if it is still the lock. Only
// processes of holder's host break it, so a host-local mutex is enough to
// keep two of them from deleting each other's fresh lock.
func (s *Store) breakStale(ctx context.Context, deployment string, holder *LockInfo) (bool, error) {
	unlock, err := hostMutex(s.mutexPath(deployment))
	if err != nil {
		return false, fmt.Errorf("break stale lock %s of deployment %q: %w; run \"ferry unlock %s\"", holder.ID, deployment, err, holder.ID)
	}
	defer unlock()
	cur, err := s.readLock(ctx, deployment)
	if errors.Is(err, errNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if cur.ID != holder.ID {
		return false, nil // someone else broke it and holds it now
	}
	if err := s.b.remove(ctx, LockKey(deployment)); err != nil {
		return false, fmt.Errorf("break stale lock %s: %w", s.b.objectURL(LockKey(deployment)), err)
	}
	return true, nil
}

func (s *Store) mutexPath(deployment string) string {
	if dir := s.b.mutexDir(); dir != "" {
		return filepath.Join(dir, ".lock-"+deployment)
	}
	sum := sha256.Sum256([]byte(s.b.objectURL(LockKey(deployment))))
	return filepath.Join(os.TempDir(), "ferry-lock-"+hex.EncodeToString(sum[:12]))
}

// Release deletes the lock if this run still holds it. Releasing twice is
// a no-op.
func (l *Lock) Release(ctx context.Context) error {
	if l.released.Load() {
		return nil
	}
	cur, err := l.s.readLock(ctx, l.deployment)
	switch {
	case errors.Is(err, errNotFound):
		l.released.Store(true)
		return fmt.Errorf("lock %s of deployment %q was already removed (by \"ferry unlock\"?)", l.Info.ID, l.deployment)
	case err != nil:
		return err
	case cur.ID != l.Info.ID:
		l.released.Store(true)
		return fmt.Errorf("lock of deployment %q is held by %s with ID %s, not by this run (ID %s): it was broken; left it in place", l.deployment, cur.Who, cur.ID, l.Info.ID)
	}
	if err := l.s.b.remove(ctx, LockKey(l.deployment)); err != nil {
		return fmt.Errorf("release lock %s: %w", l.s.b.objectURL(LockKey(l.deployment)), err)
	}
	l.released.Store(true)
	return nil
}

// owned checks that l is a live lock of s and returns its deployment.
func (l *Lock) owned(s *Store) (string, error) {
	switch {
	case l == nil:
		return "", errors.New("no lock: take the deployment's lock first")
	case l.s != s:
		return "", fmt.Errorf("lock %s of deployment %q belongs to another store", l.Info.ID, l.deployment)
	case l.released.Load():
		return "", fmt.Errorf("lock %s of deployment %q was released", l.Info.ID, l.deployment)
	}
	return l.deployment, nil
}

// Unlock breaks the deployment's lock, which must have the given ID (an
// unreadable lock object goes whatever the ID).
func (s *Store) Unlock(ctx context.Context, deployment, id string) error {
	if err := checkDeployment(deployment); err != nil {
		return err
	}
	cur, err := s.readLock(ctx, deployment)
	var ce *corruptError
	switch {
	case errors.Is(err, errNotFound):
		return fmt.Errorf("deployment %q is not locked; nothing to unlock", deployment)
	case errors.As(err, &ce):
	case err != nil:
		return err
	case cur.ID != id:
		return fmt.Errorf("deployment %q is locked by %s (pid %d) for %s with ID %s, not %s; nothing unlocked", deployment, cur.Who, cur.PID, cur.Operation, cur.ID, id)
	}
	if err := s.b.remove(ctx, LockKey(deployment)); err != nil {
		return fmt.Errorf("unlock %s: %w", s.b.objectURL(LockKey(deployment)), err)
	}
	return nil
}

// LockInfo returns who holds the deployment's lock, nil when nobody does.
func (s *Store) LockInfo(ctx context.Context, deployment string) (*LockInfo, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, err
	}
	info, err := s.readLock(ctx, deployment)
	if errors.Is(err, errNotFound) {
		return nil, nil
	}
	return info, err
}

// readLock reads the lock object; errNotFound when unlocked, a
// *corruptError when unreadable.
func (s *Store) readLock(ctx context.Context, deployment string) (*LockInfo, error) {
	key := LockKey(deployment)
	data, err := s.b.get(ctx, key)
	if errors.Is(err, errNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read lock %s: %w", s.b.objectURL(key), err)
	}
	var info LockInfo
	if err := json.Unmarshal(data, &info); err != nil || info.ID == "" {
		why := "no ID"
		if err != nil {
			why = err.Error()
		}
		return nil, &corruptError{fmt.Sprintf("lock %s is unreadable (%s); if no ferry run is using deployment %q, remove it with \"ferry unlock\" (any ID)", s.b.objectURL(key), why, deployment)}
	}
	return &info, nil
}
