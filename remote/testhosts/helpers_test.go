package testhosts_test

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote/testhosts"
)

func netListen(addr string) (net.Listener, error) { return net.Listen("tcp", addr) }

func portOf(l net.Listener) int { return l.Addr().(*net.TCPAddr).Port }

// sshdPIDsListeningOn finds sshd processes whose command line names the
// host's sshd_config.
func sshdPIDsListeningOn(t *testing.T, h testhosts.Host) []int {
	t.Helper()
	config := filepath.Join(h.Root, "sshd", "sshd_config")
	entries, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil {
			continue
		}
		// sshd rewrites its command line ("sshd: /usr/sbin/sshd -D -f ..."),
		// so match the executable and the config path in it.
		exe, _ := os.Readlink(filepath.Join("/proc", e.Name(), "exe"))
		if exe == "/usr/sbin/sshd" && strings.Contains(string(cmdline), config) {
			pids = append(pids, pid)
		}
	}
	return pids
}
