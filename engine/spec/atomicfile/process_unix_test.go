//go:build unix

package atomicfile

import (
	"os"
	"os/exec"
	"strings"
	"testing"
)

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

func TestProcessAlive(t *testing.T) {
	if !ProcessAlive(os.Getpid()) {
		t.Error("ProcessAlive(this process) = false")
	}
	if !ProcessAlive(1) {
		t.Error("ProcessAlive(1) = false: a process of someone else counts as alive")
	}
	if pid := deadPID(t); ProcessAlive(pid) {
		t.Errorf("ProcessAlive(%d), reaped, = true", pid)
	}
}

func TestSelf(t *testing.T) {
	scope := ProcessScope()
	if scope == "" {
		t.Fatal("ProcessScope is empty: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	if boot, ns, ok := strings.Cut(scope, "/"); !ok || boot == "" || !strings.HasPrefix(ns, "pid:[") {
		t.Errorf("ProcessScope = %q, want BOOT-ID/pid:[N]", scope)
	}
	host, _ := os.Hostname()
	if got, want := Self(), (Writer{PID: os.Getpid(), Tag: writerTag(host, scope)}); got != want {
		t.Errorf("Self() = %+v, want %+v", got, want)
	}
}
