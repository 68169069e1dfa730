//go:build !unix

package statestore

import "errors"

// processAlive cannot tell here: every holder counts as alive, so locks
// are only broken by Unlock.
func processAlive(int) bool { return true }

func processScope() string { return "" }

func hostMutex(string) (func(), error) {
	return nil, errors.New("no host-local mutex on this platform")
}
