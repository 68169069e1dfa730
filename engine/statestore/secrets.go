package statestore

import (
	"context"
	"errors"
	"fmt"

	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// Kinds of sealed objects (sealed.Header.Kind).
const (
	kindState   = "state"
	kindJournal = "journal"
	kindPlanKey = "plan-key"
)

// Option configures Open and OpenBucket.
type Option func(*Store)

// WithSecrets makes the Store seal what it writes with keys' sealing key
// (snapshots, journal records, the plan key) and open sealed objects
// with any of keys. Clear objects stay readable. The Store closes keys
// when it is closed. Nil keys (the default): nothing is sealed, and a
// sealed object is an error that names the key it needs.
func WithSecrets(keys *sealed.Keys) Option {
	return func(s *Store) { s.keys = keys }
}

// Secrets returns the keys the Store was opened with (nil: none), for
// what is sealed elsewhere with the same keys (plan files).
func (s *Store) Secrets() *sealed.Keys { return s.keys }

// seal returns data as it is to be stored: sealed with attrs in clear
// when the Store has a sealing key, else as it is. The sealed form keeps
// data's trailing newline, if any, outside the envelope.
func (s *Store) seal(ctx context.Context, kind string, attrs map[string]string, data []byte) ([]byte, error) {
	if !s.keys.Sealing() {
		return data, nil
	}
	out, err := s.keys.Seal(ctx, kind, attrs, data)
	if err != nil {
		return nil, fmt.Errorf("encrypt %s: %w", kind, err)
	}
	if n := len(data); n > 0 && data[n-1] == '\n' {
		out = append(out, '\n')
	}
	return out, nil
}

// open returns the clear data of a stored object: data itself when it is
// clear, else what it seals (with its header). Errors are *sealed.Error.
func (s *Store) open(ctx context.Context, subject, kind string, data []byte) ([]byte, *sealed.Header, error) {
	if !sealed.Is(data) {
		return data, nil, nil
	}
	pt, h, err := s.keys.Open(ctx, subject, kind, data)
	if err != nil {
		return nil, &h, err
	}
	return pt, &h, nil
}

// damaged tells a sealed object that is damaged (which a repair may
// write over) from one this run lacks the key for (which nothing may
// treat as damaged or empty).
func damaged(err error) bool { return sealed.ReasonOf(err) == sealed.Damaged }

// damage says what is wrong with a damaged sealed object, for messages
// that already name the object.
func damage(err error) string {
	var se *sealed.Error
	if errors.As(err, &se) && se.Err != nil {
		return "it is encrypted but damaged: " + se.Err.Error()
	}
	return err.Error()
}

func (s *Store) stateSubject(deployment string) string {
	return fmt.Sprintf("state of deployment %q in %s", deployment, s.url)
}

// checkOpenable verifies, before anything is written on top of the
// sealed snapshot serial (header h), that this run can open it: writing
// over state one cannot read would replace it blindly. It is cheap when
// the run holds the very key; otherwise it opens the snapshot.
func (s *Store) checkOpenable(ctx context.Context, deployment string, serial uint64, h *sealed.Header) error {
	if h == nil || s.keys.Holds(*h) {
		return nil
	}
	_, err := s.readSnapshot(ctx, deployment, serial)
	if errors.Is(err, errNotFound) {
		return fmt.Errorf("state of deployment %q in %s changed while it was read; try again", deployment, s.url)
	}
	return err
}
