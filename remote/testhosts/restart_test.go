package testhosts_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

func TestRestartAndRunInHost(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	h := fleet.Hosts[0]
	// Something in /run and the boot ID must survive a restart.
	if err := os.WriteFile(filepath.Join(h.Root, "run", "kept"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	bootID, err := os.ReadFile(h.BootIDFile())
	if err != nil {
		t.Fatal(err)
	}
	run := func(t *testing.T, h testhosts.Host, cmd string) string {
		t.Helper()
		d := remote.NewDialer(fleet.DialerOptions())
		defer d.Close()
		conn, err := d.Dial(ctx, h.Target())
		if err != nil {
			t.Fatal(err)
		}
		out, err := conn.Output(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}

	t.Run("new host key", func(t *testing.T) {
		nh, err := fleet.Restart(h.Name, testhosts.RestartOptions{NewHostKey: true})
		if err != nil {
			t.Fatal(err)
		}
		if nh.HostKey == h.HostKey || nh.Port != h.Port || nh.Addr != h.Addr {
			t.Fatalf("after restart: %+v, want a new key on the same address and port as %+v", nh, h)
		}
		if got, _ := fleet.Host(h.Name); got.HostKey != nh.HostKey {
			t.Errorf("Fleet.Host still has the old key")
		}
		d := remote.NewDialer(fleet.DialerOptions())
		defer d.Close()
		var mm *remote.HostKeyMismatchError
		if _, err := d.Dial(ctx, h.Target()); !errors.As(err, &mm) {
			t.Errorf("dial pinned to the old key: %v, want a host key mismatch", err)
		}
		if got := run(t, nh, "cat /run/kept; cat /proc/sys/kernel/random/boot_id"); got != "x"+strings.TrimSpace(string(bootID)) {
			t.Errorf("after restart the host has %q, want /run and the boot ID kept", got)
		}
		out, err := exec.Command("ssh", "-n", "-F", fleet.SSHConfigFile, h.Name, "true").CombinedOutput()
		if err != nil {
			t.Errorf("ssh -F %s %s with the new key: %v: %s", fleet.SSHConfigFile, h.Name, err, out)
		}
		h = nh
	})

	t.Run("session environment", func(t *testing.T) {
		nh, err := fleet.Restart(h.Name, testhosts.RestartOptions{SetEnv: []string{"PATH=/nowhere:/usr/bin:/bin", "FERRY_TEST=a b"}})
		if err != nil {
			t.Fatal(err)
		}
		if got := run(t, nh, `echo "$PATH|$FERRY_TEST"`); got != "/nowhere:/usr/bin:/bin|a b" {
			t.Errorf("PATH|FERRY_TEST = %q", got)
		}
		if got := run(t, fleet.Hosts[1], `echo "$FERRY_TEST"`); got != "" {
			t.Errorf("the other host has FERRY_TEST=%q", got)
		}
		if _, err := fleet.Restart(h.Name, testhosts.RestartOptions{}); err != nil {
			t.Fatal(err)
		}
		if got := run(t, nh, `echo "$PATH|$FERRY_TEST"`); strings.Contains(got, "/nowhere") || !strings.HasSuffix(got, "|") {
			t.Errorf("after a restart without SetEnv: %q, want sshd's default PATH", got)
		}
		if _, err := fleet.Restart(h.Name, testhosts.RestartOptions{SetEnv: []string{`A="quoted"`}}); err == nil {
			t.Errorf("Restart took a SetEnv with quotes")
		}
	})

	t.Run("mount in the host", func(t *testing.T) {
		if _, err := fleet.RunInHost(h.Name, "mount", "-t", "tmpfs", "-o", "size=1m", "ferry-test", "/nix/store"); err != nil {
			t.Fatal(err)
		}
		if got := run(t, h, "stat -f -c %T /nix/store /nix/var"); got == "tmpfs\ntmpfs" || !strings.HasPrefix(got, "tmpfs\n") {
			t.Errorf("file systems of the host's /nix/store and /nix/var: %q, want a tmpfs for the store only", got)
		}
		if got := run(t, fleet.Hosts[1], "stat -f -c %T /nix/store"); got == "tmpfs" {
			t.Errorf("the other host's store is a tmpfs too")
		}
		if out, err := exec.Command("stat", "-f", "-c", "%T", filepath.Join(h.Root, "nix", "store")).Output(); err != nil || strings.TrimSpace(string(out)) == "tmpfs" {
			t.Errorf("from outside, the host's store is %q (%v): the mount leaked out of the host", out, err)
		}
		if _, err := fleet.RunInHost("nosuchhost", "true"); err == nil {
			t.Errorf("RunInHost on a missing host succeeded")
		}
	})
}
