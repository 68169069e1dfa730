//go:build unix

package statestore

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// processAlive says whether pid names a process (signal 0: ESRCH means
// none; EPERM means one that belongs to someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}

// processScope identifies this boot and PID namespace ("" where /proc
// cannot tell): two processes can compare PIDs only within one scope.
func processScope() string {
	boot, err := os.ReadFile("/proc/sys/kernel/random/boot_id")
	if err != nil {
		return ""
	}
	ns, err := os.Readlink("/proc/self/ns/pid")
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(boot)) + "/" + ns
}

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
