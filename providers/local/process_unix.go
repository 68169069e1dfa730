//go:build unix

package local

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// These mirror engine/statestore's (which this package must not import):
// a PID means something only in one boot and PID namespace.

// processAlive says whether pid names a process (signal 0: ESRCH means
// none; EPERM means one that belongs to someone else).
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}

// processScope identifies this boot and PID namespace ("" where /proc
// cannot tell).
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
