package testhosts_test

import (
	"context"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

func TestFleetStartsIsolatedHostsAndStopsCleanly(t *testing.T) {
	ctx := context.Background()
	start := time.Now()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Names: []string{"alpha", "beta", "gamma"}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Stop() })
	t.Logf("3 hosts started in %v", time.Since(start))

	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	var got []string
	for _, h := range fleet.Hosts {
		conn, err := d.Dial(ctx, h.Target())
		if err != nil {
			t.Fatal(err)
		}
		// Each host has its own hostname, /root and an empty, initialised store.
		out, err := conn.Output(ctx, `hostname; echo "$HOME"; ls /nix/store | wc -l; test -f /nix/var/nix/db/db.sqlite && echo db; cat /etc/nix/nix.conf`)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(strings.Fields(out), " "))
		if sys, err := h.CurrentSystem(); err != nil || sys != "" {
			t.Errorf("%s: CurrentSystem() = %q, %v; want no system yet", h.Name, sys, err)
		}
		if prof, err := h.SystemProfile(); err != nil || prof != "" {
			t.Errorf("%s: SystemProfile() = %q, %v; want no profile yet", h.Name, prof, err)
		}
	}
	want := []string{
		"alpha /root 0 db sandbox = false substituters =",
		"beta /root 0 db sandbox = false substituters =",
		"gamma /root 0 db sandbox = false substituters =",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("host views (-want +got):\n%s", diff)
	}
	if a, b := fleet.Hosts[0].Addr, fleet.Hosts[1].Addr; a == b || !strings.HasPrefix(a, "127.0.0.") {
		t.Errorf("addresses %s and %s: want distinct 127.0.0.N", a, b)
	}

	// OpenSSH reaches the hosts by name through the fleet's ssh_config, with
	// the client key and the pinned host keys.
	out, err := exec.Command("ssh", "-n", "-F", fleet.SSHConfigFile, "beta", "hostname").CombinedOutput()
	if err != nil || strings.TrimSpace(string(out)) != "beta" {
		t.Errorf("ssh -F %s beta hostname: %v: %s", fleet.SSHConfigFile, err, out)
	}

	// Mounts stay inside the hosts: this machine's /root is untouched.
	if _, err := os.Stat("/root/.ssh/authorized_keys"); err == nil {
		data, _ := os.ReadFile("/root/.ssh/authorized_keys")
		if strings.Contains(string(data), fleet.ClientPublicKey) {
			t.Errorf("the client key leaked into this machine's /root/.ssh/authorized_keys")
		}
	}

	var pids []int
	for _, h := range fleet.Hosts {
		pids = append(pids, sshdPIDsListeningOn(t, h)...)
	}
	if len(pids) != 3 {
		t.Fatalf("found %d sshd processes for 3 hosts", len(pids))
	}
	if err := fleet.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}
	for _, pid := range pids {
		if err := syscall.Kill(pid, 0); err == nil {
			t.Errorf("sshd %d still running after Stop", pid)
		}
	}
	if _, err := os.Stat(fleet.Base); !os.IsNotExist(err) {
		t.Errorf("fleet folder %s still there after Stop (err %v)", fleet.Base, err)
	}
}

func TestStartReportsBrokenHost(t *testing.T) {
	// A fixed port already in use: sshd cannot bind, and Start says why
	// instead of hanging, leaving nothing behind.
	l, err := netListen("127.0.0.2:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	base := t.TempDir() + "/fleet"
	_, err = testhosts.Start(context.Background(), testhosts.Options{N: 1, Base: base, Port: portOf(l)})
	if err == nil || !strings.Contains(err.Error(), "start test host h1: it stopped") || !strings.Contains(err.Error(), "Bind to port") {
		t.Fatalf("Start on a busy port: got %v, want it to report sshd's bind failure", err)
	}
	if _, err := os.Stat(base); !os.IsNotExist(err) {
		t.Errorf("fleet folder %s left behind after a failed Start", base)
	}
}

func TestBadOptionsAreErrors(t *testing.T) {
	used := t.TempDir()
	if err := os.WriteFile(used+"/leftover", nil, 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		opts testhosts.Options
		want string
	}{
		{"no hosts", testhosts.Options{}, "no hosts asked for"},
		{"repeated name", testhosts.Options{Names: []string{"a", "a"}}, `repeated host name "a"`},
		{"name with a slash", testhosts.Options{Names: []string{"a/b"}}, `host name "a/b"`},
		{"used folder", testhosts.Options{N: 1, Base: used}, "is not empty"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f, err := testhosts.Start(context.Background(), tt.opts)
			if err == nil {
				f.Stop()
				t.Fatal("Start succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q does not contain %q", err, tt.want)
			}
		})
	}
	if _, err := os.Stat(used + "/leftover"); err != nil {
		t.Errorf("Start touched a folder it refused: %v", err)
	}
}
