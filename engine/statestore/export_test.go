package statestore

import "context"

// Hooks for the external tests.

var ErrExistsForTest = errExists

// CreateObjectForTest is the backend's create-if-absent, without the
// checks Write and Lock make first.
func CreateObjectForTest(ctx context.Context, s *Store, key string, data []byte) error {
	return s.b.create(ctx, key, data, true)
}
