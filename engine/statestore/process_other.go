//go:build !unix

package statestore

import "errors"

func hostMutex(string) (func(), error) {
	return nil, errors.New("no host-local mutex on this platform")
}
