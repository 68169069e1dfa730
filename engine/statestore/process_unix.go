//go:build unix

package statestore

import (
	"os"
	"syscall"
)

// hostMutex takes an exclusive flock on path, creating the file (private:
// it sits in the state folder, see fileMode).
func hostMutex(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
