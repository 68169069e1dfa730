//go:build unix

package atomicfile

import (
	"errors"
	"os"
	"strings"
	"syscall"
)

// ProcessAlive says whether pid names a process of this scope (signal 0:
// ESRCH means none; EPERM means one that belongs to someone else).
func ProcessAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return !errors.Is(err, syscall.ESRCH)
}

// ProcessScope identifies this boot and PID namespace ("" where /proc
// cannot tell): two processes can compare PIDs only within one scope.
// Lock files record it, so its form must not change.
func ProcessScope() string {
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
