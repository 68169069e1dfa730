package testhosts_test

import (
	"context"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

var bootIDForm = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}\n$`)

func bootID(t *testing.T, ctx context.Context, d *remote.Dialer, h testhosts.Host) string {
	t.Helper()
	conn, closeConn, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	defer closeConn()
	out, err := conn.Output(ctx, "cat /proc/sys/kernel/random/boot_id")
	if err != nil {
		t.Fatal(err)
	}
	if !bootIDForm.MatchString(out) {
		t.Errorf("%s: boot_id %q is not a lowercase UUID and a newline", h.Name, out)
	}
	return out
}

// waitFor polls cond until it holds. The deadline only turns a hang into a
// failure: it is generous enough for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestRebootRequestRestartsTheHost(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { fleet.Stop() })
	h1, h2 := fleet.Hosts[0], fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()

	id1, id2 := bootID(t, ctx, d, h1), bootID(t, ctx, d, h2)
	if id1 == id2 {
		t.Errorf("hosts share boot ID %q", id1)
	}
	if _, err := os.Lstat(filepath.Join(h1.Root, "run", "booted-system")); !os.IsNotExist(err) {
		t.Errorf("a host has a booted-system at first start (err %v)", err)
	}

	// What a stub system's switch-to-configuration and reboot do on h1.
	conn, err := d.Dial(ctx, h1.Target())
	if err != nil {
		t.Fatal(err)
	}
	const boot = "/nix/store/00000000000000000000000000000000-next-system"
	script := `mkdir -p /run/ferry-test && ln -sfn ` + boot + ` /run/ferry-test/boot-system && echo leftover > /run/leftover && echo reboot > /run/ferry-test/reboot-request`
	if err := conn.Run(ctx, script, remote.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "h1 to reboot", func() bool { return fleet.Reboots("h1") == 1 })

	if got := bootID(t, ctx, d, h1); got == id1 {
		t.Errorf("boot ID unchanged by the reboot: %q", got)
	}
	if got := bootID(t, ctx, d, h2); got != id2 {
		t.Errorf("h2's boot ID changed to %q by h1's reboot", got)
	}
	for _, link := range []string{"booted-system", "current-system"} {
		if got, err := os.Readlink(filepath.Join(h1.Root, "run", link)); err != nil || got != boot {
			t.Errorf("run/%s -> %q (%v), want the boot entry %s", link, got, err, boot)
		}
	}
	entries, _ := os.ReadDir(filepath.Join(h1.Root, "run"))
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	// mount(8) recreates run/mount when the host starts.
	if got := strings.Join(names, " "); got != "booted-system current-system mount sshd" {
		t.Errorf("run after reboot holds %q, want only the fresh links, mount and sshd", got)
	}
	// halt stops the host for good; Stop still succeeds.
	if err := conn2(t, ctx, d, h1).Run(ctx, `mkdir -p /run/ferry-test && echo halt > /run/ferry-test/reboot-request`, remote.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	// Only the watcher removes the request: once it is gone, the watcher
	// took it, and Stop waits for the watcher to finish with it. The
	// reboot counts read after Stop are final.
	request := filepath.Join(h1.Root, "run", "ferry-test", "reboot-request")
	waitFor(t, "the watcher to take the halt request", func() bool {
		_, err := os.Lstat(request)
		return os.IsNotExist(err)
	})
	waitFor(t, "h1 to halt", func() bool {
		_, _, err := d.DialFresh(ctx, h1.Target())
		return err != nil
	})
	if err := fleet.Stop(); err != nil {
		t.Fatal(err)
	}
	if n := fleet.Reboots("h1"); n != 1 {
		t.Errorf("h1 rebooted %d times, want 1: halt counted as a reboot", n)
	}
	if n := fleet.Reboots("h2"); n != 0 {
		t.Errorf("h2 rebooted %d times by h1's requests", n)
	}
}

// conn2 is a fresh connection: the pooled one died with the reboot.
func conn2(t *testing.T, ctx context.Context, d *remote.Dialer, h testhosts.Host) *remote.Conn {
	t.Helper()
	conn, _, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}
