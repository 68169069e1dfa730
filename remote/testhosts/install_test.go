package testhosts_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestInstallOnRescueHost walks a rescue host with a loop disk through
// what an install does, by hand: kexec into the installer (same host key,
// new boot ID, VARIANT_ID=installer, empty store), partition and format
// the disk and mount it at /mnt, copy a system into /mnt's store, run the
// nixos-install stand-in, write a new host key into /mnt/etc/ssh, reboot:
// the host boots its disk (the new host key, the system current, the
// installed store as /nix). Removing it detaches the loop device.
func TestInstallOnRescueHost(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	h, err := fleet.Add(ctx, testhosts.HostOptions{Name: "r1", Addr: "127.0.0.1", Kind: testhosts.KindRescue, NoNix: true, DiskSize: 256 << 20})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h.Disk, "/dev/loop") || h.Kind != testhosts.KindRescue {
		t.Fatalf("added %+v, want a rescue host with a loop disk", h)
	}
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	run := func(h testhosts.Host, cmd string) string {
		t.Helper()
		conn, closeConn, err := d.DialFresh(ctx, h.Target())
		if err != nil {
			t.Fatal(err)
		}
		defer closeConn()
		out, err := conn.Output(ctx, cmd)
		if err != nil {
			t.Fatalf("%s: %v", cmd, err)
		}
		return strings.TrimSpace(out)
	}
	if got := run(h, "ls /nix/store; grep -c VARIANT_ID=installer /etc/os-release || true"); got != "0" {
		t.Errorf("rescue host: store and installer marker %q, want an empty store and no installer", got)
	}
	if got := run(h, "command -v nix-store nix || echo no nix; touch /nix/x 2>/dev/null && echo writable || echo read-only"); got != "no nix\nread-only" {
		t.Errorf("rescue host without Nix: %q, want no Nix binaries and a read-only /nix", got)
	}
	boot1 := run(h, "cat /proc/sys/kernel/random/boot_id")

	// kexec, asked from inside the host as the kexec tarball's run does.
	run(h, "kexec-installer")
	waitFor(t, "the installer", func() bool {
		got, _ := fleet.Host("r1")
		return got.Kind == testhosts.KindInstaller && fleet.Up("r1")
	})
	inst, _ := fleet.Host("r1")
	if inst.HostKey != h.HostKey || inst.Disk != h.Disk {
		t.Errorf("installer %+v: want the rescue system's host key and disk", inst)
	}
	if got := run(inst, "cat /proc/sys/kernel/random/boot_id"); got == boot1 {
		t.Error("kexec kept the boot ID")
	}
	if got := run(inst, ". /etc/os-release; echo $VARIANT_ID"); got != "installer" {
		t.Errorf("installer VARIANT_ID = %q", got)
	}
	if got := run(inst, "command -v nix-store >/dev/null && echo nix; touch /nix/x && echo writable"); got != "nix\nwritable" {
		t.Errorf("installer: %q, want Nix and a writable store", got)
	}

	// The stub disko module's script for this disk, copied into the
	// installer's store and run; then the closure and the install.
	q := remote.Quote
	disko := buildDisko(t, h.Disk)
	copyTo(t, fleet, "ssh://r1", disko)
	run(inst, disko)
	if got := run(inst, "findmnt -n -o SOURCE /mnt; blkid -o value -s TYPE "+q(h.Disk+"p1")); got != h.Disk+"p2\nvfat" {
		t.Fatalf("after disko: /mnt from and ESP type %q, want %sp2 and vfat", got, h.Disk)
	}
	sysDir := t.TempDir()
	os.WriteFile(filepath.Join(sysDir, "nixos-version"), []byte("24.05.ferrystub\n"), 0o644)
	out, err := exec.Command("nix-store", "--add", sysDir).Output()
	if err != nil {
		t.Fatal(err)
	}
	system := strings.TrimSpace(string(out))
	copyTo(t, fleet, "ssh://r1?remote-store=local?root=/mnt", system)
	if got := run(inst, "nixos-install --system "+q(system)+" --no-root-passwd --no-channel-copy"); !strings.Contains(got, "installation finished") {
		t.Errorf("nixos-install said %q", got)
	}
	newKey, err := testhosts.NewKey("root@r1")
	if err != nil {
		t.Fatal(err)
	}
	run(inst, "mkdir -p /mnt/etc/ssh && umask 077 && printf '%s' "+q(string(newKey.PEM))+" > /mnt/etc/ssh/ssh_host_ed25519_key")
	entry, ok, err := testhosts.ReadBootEntry(h.Disk)
	if err != nil || !ok || entry.System != system || entry.Root != h.Disk+"p2" {
		t.Fatalf("boot entry %+v, %v, %v: want %s on %sp2", entry, ok, err, system, h.Disk)
	}

	run(inst, "umount /mnt && reboot")
	waitFor(t, "the boot from disk", func() bool {
		got, _ := fleet.Host("r1")
		return got.Kind == testhosts.KindDisk && fleet.Up("r1")
	})
	booted, _ := fleet.Host("r1")
	if booted.HostKey != newKey.Public {
		t.Fatalf("booted host key %s, want the one written into /mnt/etc/ssh %s", booted.HostKey, newKey.Public)
	}
	if got := run(booted, "readlink /run/current-system; readlink -f /nix/var/nix/profiles/system; test -e "+q(system)+" && echo stored"); got != system+"\n"+system+"\nstored" {
		t.Errorf("booted from disk: %q, want %s current, as profile and in /nix", got, system)
	}
	if cur, _ := booted.CurrentSystem(); cur != system {
		t.Errorf("CurrentSystem = %q", cur)
	}

	disk := h.Disk
	if err := fleet.Remove("r1"); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("losetup", "-a").Output(); strings.Contains(string(out), h.DiskImage()) {
		t.Errorf("loop device %s still attached after Remove:\n%s", disk, out)
	}
}

// TestStopDetachesDisks: Stop detaches the loop device of every host.
func TestStopDetachesDisks(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	h, err := fleet.Add(ctx, testhosts.HostOptions{Name: "r1", Addr: "127.0.0.1", Kind: testhosts.KindInstaller, DiskSize: 64 << 20})
	if err != nil {
		fleet.Stop()
		t.Fatal(err)
	}
	if err := fleet.Stop(); err != nil {
		t.Fatal(err)
	}
	if out, _ := exec.Command("losetup", "-a").Output(); strings.Contains(string(out), h.DiskImage()) {
		t.Errorf("loop device %s still attached after Stop:\n%s", h.Disk, out)
	}
}

// buildDisko builds the stub disko module's script for a GPT disk at
// device with a 64 MiB ESP and an ext4 root.
func buildDisko(t *testing.T, device string) string {
	t.Helper()
	expr := `{ nixpkgs, device }: (import (nixpkgs + "/nixos/lib/eval-config.nix") { modules = [ ({ modulesPath, ... }: {
	  imports = [ "${modulesPath}/disko" ];
	  networking.hostName = "r1";
	  disko.devices.disk.main = { inherit device; type = "disk"; content = { type = "gpt"; partitions = {
	    ESP = { size = "64M"; type = "EF00"; priority = 1; content = { type = "filesystem"; format = "vfat"; mountpoint = "/boot"; }; };
	    root = { size = "100%"; content = { type = "filesystem"; format = "ext4"; mountpoint = "/"; }; };
	  }; }; };
	}) ]; }).config.system.build.diskoScript`
	out, err := exec.Command("nix-build", "--option", "substituters", "", "--no-out-link",
		"--arg", "nixpkgs", nixtest.NixpkgsPath(), "--argstr", "device", device, "-E", expr).Output()
	if err != nil {
		t.Fatalf("build the disko script: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// copyTo copies path's closure to the Nix store URL to, over the fleet's
// OpenSSH configuration.
func copyTo(t *testing.T, fleet *testhosts.Fleet, to, path string) {
	t.Helper()
	cp := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--to", to, path)
	cp.Env = append(os.Environ(), "NIX_SSHOPTS=-F "+fleet.SSHConfigFile)
	if out, err := cp.CombinedOutput(); err != nil {
		t.Fatalf("nix copy --to %s: %v: %s", to, err, out)
	}
}
