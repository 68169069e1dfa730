package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// installFleetConfig installs NixOS onto the rescue hosts names, each
// with the disko layout of installWebNix on its own loop disk.
func installFleetConfig(names []string) string {
	var b strings.Builder
	b.WriteString("deployment(name = \"install\")\n")
	for _, n := range names {
		fmt.Fprintf(&b, `machine(name = %q, target = install(ssh(host = var("%s_host"), port = int(var("%s_port"))), kexec_image = "./kexec.tar.gz", min_memory = "64MiB"),
    modules = [nix.module("./web.nix", args = {"disk": var("%s_disk")})])
`, n, n, n, n)
	}
	return b.String()
}

// addRescueHosts adds n rescue hosts h0.. with a 256 MiB loop disk each.
func addRescueHosts(b *testing.B, fleet *testhosts.Fleet, n int) []string {
	b.Helper()
	var names []string
	for i := range n {
		name := "h" + strconv.Itoa(i)
		if _, err := fleet.Add(context.Background(), testhosts.HostOptions{Name: name, Addr: "127.0.0." + strconv.Itoa(i+1), Kind: testhosts.KindRescue, DiskSize: 256 << 20}); err != nil {
			b.Fatal(err)
		}
		names = append(names, name)
	}
	return names
}

// removeHosts removes the hosts names, detaching their loop disks.
func removeHosts(b *testing.B, fleet *testhosts.Fleet, names []string) {
	b.Helper()
	for _, n := range names {
		if err := fleet.Remove(n); err != nil {
			b.Fatal(err)
		}
	}
}

// installWithFerry installs n fresh rescue hosts with one plan-less
// `ferry apply --auto-approve --allow-install` (evaluation, builds, facts,
// the four phases, verification) and returns its wall time.
func installWithFerry(b *testing.B, fleet *testhosts.Fleet, n int) time.Duration {
	b.Helper()
	names := addRescueHosts(b, fleet, n)
	defer removeHosts(b, fleet, names)
	dir := b.TempDir()
	for name, content := range map[string]string{"ferry.star": installFleetConfig(names), "web.nix": installWebNix, "kexec.tar.gz": string(kexecTarball(b))} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	setHostEnv(b, fleet, dir)
	for _, h := range fleet.Hosts {
		b.Setenv("FERRY_VAR_"+h.Name+"_disk", h.Disk)
	}
	start := time.Now()
	r := mustFerry(b, 0, dir, "", "apply", "--json", "--auto-approve", "--allow-install")
	took := time.Since(start)
	if path := os.Getenv("FERRY_BENCH_TIMELINE"); path != "" { // one apply's events, ms after its start
		var tl strings.Builder
		for _, ev := range decodeEvents(b, r.stdout) {
			fmt.Fprintf(&tl, "%6d ms %-10s %-12s %s\n", ev.Time.Sub(start).Milliseconds(), ev.Kind, ev.Addr, ev.Message)
		}
		if err := os.WriteFile(fmt.Sprintf("%s.%d", path, n), []byte(tl.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	for _, name := range names {
		if h, _ := fleet.Host(name); h.Kind != testhosts.KindDisk {
			b.Fatalf("after ferry apply %s is %q, want booted from its disk", name, h.Kind)
		}
	}
	return took
}

// installByHand installs n fresh rescue hosts in parallel with the steps
// of TestInstallOnRescueHost (remote/testhosts), as a person or a script
// would run them (handInstall), and returns their wall time.
func installByHand(b *testing.B, fleet *testhosts.Fleet, n int) time.Duration {
	b.Helper()
	names := addRescueHosts(b, fleet, n)
	defer removeHosts(b, fleet, names)
	dir := b.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "web.nix"), []byte(installWebNix), 0o644); err != nil {
		b.Fatal(err)
	}
	tarball := kexecTarball(b)
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := time.Now()
	for i, name := range names {
		h, _ := fleet.Host(name)
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = handInstall(context.Background(), d, h, fleet.SSHConfigFile, filepath.Join(dir, "web.nix"), tarball)
		}()
	}
	wg.Wait()
	took := time.Since(start)
	if err := errors.Join(errs...); err != nil {
		b.Fatal(err)
	}
	return took
}

// handInstall installs h by hand: evaluate and build the system and the
// disko script (nix-build), upload and unpack the kexec tarball and run
// its kexec/run, wait for the installer, nix copy the disko script (over
// OpenSSH with sshConfig) and run it, nix copy the system into /mnt's
// store, nixos-install, write a new host key, reboot and wait for the
// installed system, which must run the system.
func handInstall(ctx context.Context, d *remote.Dialer, h testhosts.Host, sshConfig, webNix string, tarball []byte) error {
	sh := func(name string, args ...string) (string, error) {
		cmd := exec.Command(name, args...)
		cmd.Env = append(os.Environ(), "NIX_SSHOPTS=-F "+sshConfig)
		var errOut bytes.Buffer
		cmd.Stderr = &errOut
		out, err := cmd.Output()
		if err != nil {
			return "", fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, errOut.String())
		}
		return strings.TrimSpace(string(out)), nil
	}
	expr := `{ nixpkgs, disk }: let c = import (nixpkgs + "/nixos/lib/eval-config.nix") { modules = [ { _module.args.disk = disk; } ` + webNix + ` ]; };
	  in [ c.config.system.build.toplevel c.config.system.build.diskoScript ]`
	out, err := sh("nix-build", "--option", "substituters", "", "--option", "sandbox", "false", "--no-out-link",
		"--arg", "nixpkgs", nixtest.NixpkgsPath(), "--argstr", "disk", h.Disk, "-E", expr)
	if err != nil {
		return err
	}
	built := strings.Fields(out)
	if len(built) != 2 {
		return fmt.Errorf("nix-build built %q, want the system and the disko script", built)
	}
	system, disko := built[0], built[1]
	conn, err := d.Dial(ctx, h.Target())
	if err != nil {
		return err
	}
	boot, err := remote.BootID(ctx, conn)
	if err != nil {
		return err
	}
	// The host may go away before the session's status comes back: a
	// script goes on (|| true) and waits for the new boot.
	restarting := func(err error) error {
		var exit *remote.ExitError
		if errors.As(err, &exit) && exit.Code == -1 {
			return nil
		}
		return err
	}
	if err := restarting(conn.Run(ctx, "mkdir -p /root/kexec && tar -C /root/kexec -xzf - && /root/kexec/kexec/run", remote.RunOptions{Stdin: bytes.NewReader(tarball)})); err != nil {
		return err
	}
	if conn, err = d.WaitForBoot(ctx, h.Target(), boot, remote.RebootOptions{Poll: 200 * time.Millisecond}); err != nil {
		return err
	}
	if _, err := sh("nix", "--extra-experimental-features", "nix-command", "copy", "--to", "ssh://"+h.Name, disko); err != nil {
		return err
	}
	if err := conn.Run(ctx, disko, remote.RunOptions{}); err != nil {
		return err
	}
	if _, err := sh("nix", "--extra-experimental-features", "nix-command", "copy", "--to", "ssh://"+h.Name+"?remote-store=local?root=/mnt", system); err != nil {
		return err
	}
	if err := conn.Run(ctx, remote.Command("nixos-install", "--system", system, "--no-root-passwd", "--no-channel-copy"), remote.RunOptions{}); err != nil {
		return err
	}
	priv, pub, err := remote.NewHostKey("root@" + h.Name)
	if err != nil {
		return err
	}
	if err := conn.Run(ctx, "mkdir -p /mnt/etc/ssh && umask 077 && cat > /mnt/etc/ssh/ssh_host_ed25519_key", remote.RunOptions{Stdin: bytes.NewReader(priv)}); err != nil {
		return err
	}
	if boot, err = remote.BootID(ctx, conn); err != nil {
		return err
	}
	if err := restarting(conn.Run(ctx, "umount -R /mnt && reboot", remote.RunOptions{})); err != nil {
		return err
	}
	installed := h.Target()
	installed.HostKey = pub
	if conn, err = d.WaitForBoot(ctx, installed, boot, remote.RebootOptions{Poll: 200 * time.Millisecond, Previous: h.HostKey}); err != nil {
		return err
	}
	if cur, err := remote.CurrentSystem(ctx, conn); err != nil || cur != system {
		return fmt.Errorf("%s runs %q (%v), want %s", h.Name, cur, err, system)
	}
	return nil
}

// BenchmarkInstall installs rescue hosts with loop disks on the test bed,
// each iteration four ways on fresh hosts: one host by hand
// (installByHand, the baseline), one host with `ferry apply`, ten hosts
// with one `ferry apply`, and ten hosts by hand in parallel (what the
// machine allows). ns/op is the four together; the metrics are each one's
// seconds and the two ratios, ferry-1/hand (target ≤ 1.5, fails
// the benchmark when exceeded) and ferry-10/ferry-1 (target ≤ 2; fails
// when exceeded while the steps by hand stay within 2x, or when ferry's
// ten hosts take longer than ten by hand; else logged as the bed's limit).
// FERRY_BENCH_TIMELINE=PATH writes each apply's events to PATH.N.
//
//	go test ./cmd/ferry/cli -run '^$' -bench BenchmarkInstall -benchtime 3x
func BenchmarkInstall(b *testing.B) {
	nixtest.RequireNix(b)
	fleet, err := testhosts.Start(context.Background(), testhosts.Options{Empty: true})
	if err != nil {
		b.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	defer func() {
		if err := fleet.Stop(); err != nil {
			b.Error(err)
		}
	}()
	installWithFerry(b, fleet, 1) // warm: the stub's builds, the first evaluation
	var hand, hand10, one, ten time.Duration
	b.ResetTimer()
	for range b.N {
		hand += installByHand(b, fleet, 1)
		one += installWithFerry(b, fleet, 1)
		ten += installWithFerry(b, fleet, 10)
		hand10 += installByHand(b, fleet, 10)
	}
	n := float64(b.N)
	b.Logf("by hand %.2f s (10 hosts in parallel %.2f s), ferry 1 host %.2f s, ferry 10 hosts %.2f s", hand.Seconds()/n, hand10.Seconds()/n, one.Seconds()/n, ten.Seconds()/n)
	b.ReportMetric(hand.Seconds()/n, "hand-s")
	b.ReportMetric(hand10.Seconds()/n, "hand-10-s")
	b.ReportMetric(one.Seconds()/n, "ferry-1-s")
	b.ReportMetric(ten.Seconds()/n, "ferry-10-s")
	b.ReportMetric(one.Seconds()/hand.Seconds(), "ferry-1/hand")
	b.ReportMetric(ten.Seconds()/one.Seconds(), "ferry-10/ferry-1")
	if r := one.Seconds() / hand.Seconds(); r > 1.5 {
		b.Errorf("one host with ferry took %.2fx the steps by hand (%.2f s against %.2f s), want ≤ 1.5x", r, one.Seconds()/n, hand.Seconds()/n)
	}
	// Ten hosts ≤ 2x one host, unless the machine itself cannot: the same
	// steps by hand on ten hosts in parallel take more than 2x one host
	// (on 2 CPUs, ten hosts' mkfs, nix-store and sshd queue for them).
	switch r, bed := ten.Seconds()/one.Seconds(), hand10.Seconds()/hand.Seconds(); {
	case r > 2 && bed <= 2:
		b.Errorf("ten hosts with ferry took %.2fx one host (%.2f s against %.2f s), want ≤ 2x: by hand they take %.2fx", r, ten.Seconds()/n, one.Seconds()/n, bed)
	case r > 2 && ten > hand10:
		b.Errorf("ten hosts with ferry took %.2fx one host and longer than by hand (%.2f s against %.2f s)", r, ten.Seconds()/n, hand10.Seconds()/n)
	case r > 2:
		b.Logf("ten hosts with ferry took %.2fx one host, over the 2x target, but this machine takes %.2fx by hand: the bed is the limit (nproc, uptime)", r, bed)
	}
}
