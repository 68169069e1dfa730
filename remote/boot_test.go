package remote_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// requireStubReboot stops the test unless h's current system is a stub
// whose reboot only asks the test host to restart: this machine must never
// run a real reboot.
func requireStubReboot(t *testing.T, h testhosts.Host) {
	t.Helper()
	current, err := h.CurrentSystem()
	if err != nil || current == "" {
		t.Fatalf("%s has no current system (%v): refusing to reboot it", h.Name, err)
	}
	b, err := os.ReadFile(h.StorePath(current + "/sw/bin/reboot"))
	if err != nil || !strings.Contains(string(b), "/run/ferry-test/reboot-request") {
		t.Fatalf("%s's current system has no stub sw/bin/reboot (%v): refusing to reboot it", h.Name, err)
	}
}

// localBootFiles are the boot files of a system in this machine's store.
func localBootFiles(t *testing.T, system string) remote.BootFiles {
	t.Helper()
	resolve := func(name string) string {
		out, err := exec.Command("readlink", "-f", filepath.Join(system, name)).Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	return remote.BootFiles{Kernel: resolve("kernel"), Initrd: resolve("initrd"), Modules: resolve("kernel-modules")}
}

func TestBootFilesChanges(t *testing.T) {
	a := remote.BootFiles{Kernel: "/nix/store/a-linux-6.1.0/bzImage", Initrd: "/nix/store/a-initrd/initrd", Modules: "/nix/store/a-linux-6.1.0-modules"}
	tests := []struct {
		name string
		next remote.BootFiles
		want []string
	}{
		{"same", a, nil},
		{"kernel", remote.BootFiles{Kernel: "/nix/store/b-linux-6.6.8/bzImage", Initrd: a.Initrd, Modules: a.Modules},
			[]string{"kernel /nix/store/a-linux-6.1.0/bzImage → /nix/store/b-linux-6.6.8/bzImage"}},
		{"all", remote.BootFiles{Kernel: "/k", Initrd: "/i", Modules: "/m"}, []string{
			"kernel /nix/store/a-linux-6.1.0/bzImage → /k",
			"initrd /nix/store/a-initrd/initrd → /i",
			"kernel modules /nix/store/a-linux-6.1.0-modules → /m",
		}},
		{"unknown is no change", remote.BootFiles{Kernel: "/k"}, []string{"kernel /nix/store/a-linux-6.1.0/bzImage → /k"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, a.Changes(tt.next)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
	if got := (remote.BootFiles{}).Changes(a); got != nil {
		t.Errorf("from unknown files: %q, want none", got)
	}
}

func TestRebootComesBackWithTheBootEntry(t *testing.T) {
	_, sys := fixture(t)
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	h, halting := fleet.Hosts[0], fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)

	if _, booted, err := remote.BootedFiles(ctx, conn); err != nil || booted {
		t.Errorf("BootedFiles on a fresh host: booted %v, %v; want none", booted, err)
	}
	switchTo(t, conn, sys["boot1"])
	requireStubReboot(t, h)
	before, err := remote.BootID(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	conn, err = d.Reboot(ctx, h.Target(), remote.RebootOptions{Timeout: 20 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("rebooted in %v", time.Since(start))
	after, err := remote.BootID(ctx, conn)
	if err != nil || after == before || fleet.Reboots(h.Name) != 1 {
		t.Errorf("boot ID %q -> %q (%v), %d reboots; want a new boot", before, after, err, fleet.Reboots(h.Name))
	}
	files, booted, err := remote.BootedFiles(ctx, conn)
	if err != nil || !booted {
		t.Fatalf("BootedFiles after reboot: %v, %v", booted, err)
	}
	if diff := cmp.Diff(localBootFiles(t, sys["boot1"]), files); diff != "" || !strings.HasSuffix(files.Kernel, "-linux-6.1.0/bzImage") {
		t.Errorf("booted files (-want +got):\n%s", diff)
	}
	// The pool's connection was replaced: Dial works again.
	pooled, err := d.Dial(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	if id, err := remote.BootID(ctx, pooled); err != nil || id != after {
		t.Errorf("Dial after the reboot: boot ID %q, %v", id, err)
	}

	// boot installs boot2 as the boot entry; the booted files tell that the
	// kernel, initrd and modules change; the next reboot runs boot2.
	copyTo(t, pooled, sys["boot2"])
	if err := remote.Activate(ctx, pooled, sys["boot2"], remote.ActionBoot); err != nil {
		t.Fatal(err)
	}
	changes := files.Changes(localBootFiles(t, sys["boot2"]))
	if len(changes) != 3 || !strings.HasPrefix(changes[0], "kernel /nix/store/") || !strings.Contains(changes[0], "-linux-6.1.0/bzImage → /nix/store/") {
		t.Errorf("changes %q, want kernel, initrd and modules", changes)
	}
	requireStubReboot(t, h)
	conn, err = d.Reboot(ctx, h.Target(), remote.RebootOptions{Timeout: 20 * time.Second, Poll: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if current, err := remote.CurrentSystem(ctx, conn); err != nil || current != sys["boot2"] {
		t.Errorf("current system after the second reboot %q, %v; want boot2", current, err)
	}
	if files, _, _ := remote.BootedFiles(ctx, conn); !strings.HasSuffix(files.Kernel, "-linux-6.6.8/bzImage") {
		t.Errorf("booted kernel %q, want 6.6.8", files.Kernel)
	}

	// A host that halts instead never comes back.
	hconn := dial(t, d, halting)
	switchTo(t, hconn, sys["halting"])
	requireStubReboot(t, halting)
	start = time.Now()
	_, err = d.Reboot(ctx, halting.Target(), remote.RebootOptions{Timeout: 1500 * time.Millisecond, Poll: 100 * time.Millisecond})
	want := halting.Address() + " did not come back within 1.5s after reboot"
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("Reboot of a halting host: got %v, want %q", err, want)
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Reboot gave up after %v, want about 1.5s", took)
	}
	if fleet.Reboots(halting.Name) != 0 {
		t.Errorf("the halting host rebooted")
	}
}
