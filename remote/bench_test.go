package remote_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// Benchmarks against a real test host. Compare ferry with its baseline in
// one run (go test -run '^$' -bench . ./remote/): a command over the reused
// connection against a fresh OpenSSH connection, and CopyClosure against
// `nix copy --to ssh://`.

func benchHost(b *testing.B) (*testhosts.Fleet, testhosts.Host, map[string]string) {
	b.Helper()
	sys, err := buildSystems()
	if err != nil {
		b.Fatal(err)
	}
	fleet, err := testhosts.Start(context.Background(), testhosts.Options{N: 1})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { fleet.Stop() })
	return fleet, fleet.Hosts[0], sys
}

func BenchmarkRunReusedConnection(b *testing.B) {
	fleet, h, _ := benchHost(b)
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	for b.Loop() {
		conn, err := d.Dial(ctx, h.Target())
		if err != nil {
			b.Fatal(err)
		}
		if err := conn.Run(ctx, "true", remote.RunOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkRunOpenSSHBaseline(b *testing.B) {
	fleet, h, _ := benchHost(b)
	for b.Loop() {
		if out, err := exec.Command("ssh", "-n", "-F", fleet.SSHConfigFile, h.Name, "true").CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
	}
}

// deleteFromHost removes the closure again so that every iteration copies it.
func deleteFromHost(b *testing.B, conn *remote.Conn, paths []string) {
	b.Helper()
	if err := conn.Run(context.Background(), remote.Command(append([]string{"nix-store", "--delete"}, paths...)...), remote.RunOptions{}); err != nil {
		b.Fatal(err)
	}
}

func BenchmarkCopyClosure(b *testing.B) {
	fleet, h, sys := benchHost(b)
	closure, err := exec.Command("nix-store", "-qR", sys["good"]).Output()
	if err != nil {
		b.Fatal(err)
	}
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn, err := d.Dial(ctx, h.Target())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		if _, err := remote.CopyClosure(ctx, conn, []string{sys["good"]}, nil); err != nil {
			b.Fatal(err)
		}
		b.StopTimer()
		deleteFromHost(b, conn, splitLines(closure))
		b.StartTimer()
	}
}

func BenchmarkCopyClosureNixCopyBaseline(b *testing.B) {
	fleet, h, sys := benchHost(b)
	closure, err := exec.Command("nix-store", "-qR", sys["good"]).Output()
	if err != nil {
		b.Fatal(err)
	}
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn, err := d.Dial(context.Background(), h.Target())
	if err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy", "--to", "ssh://"+h.Name, sys["good"])
		cmd.Env = append(os.Environ(), "NIX_SSHOPTS=-F "+fleet.SSHConfigFile)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%v: %s", err, out)
		}
		b.StopTimer()
		deleteFromHost(b, conn, splitLines(closure))
		b.StartTimer()
	}
}

// BenchmarkProbe compares Probe, one command, with what plan ran before it:
// CurrentSystem, Generations and BootedFiles, one after the other and (as
// the engine did) at the same time over the one connection, on a host with
// a profile, a booted system and a pending watchdog.
func BenchmarkProbe(b *testing.B) {
	fleet, h, sys := benchHost(b)
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn, err := d.Dial(ctx, h.Target())
	if err != nil {
		b.Fatal(err)
	}
	for _, name := range []string{"good", "alt"} {
		if _, err := remote.CopyClosure(ctx, conn, []string{sys[name]}, nil); err != nil {
			b.Fatal(err)
		}
		if err := remote.Activate(ctx, conn, sys[name], remote.ActionSwitch); err != nil {
			b.Fatal(err)
		}
	}
	if err := os.Symlink(sys["good"], filepath.Join(h.Root, "run", "booted-system")); err != nil {
		b.Fatal(err)
	}
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: time.Hour, Action: remote.ActionTest, System: sys["alt"]})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Disarm(ctx, conn)

	b.Run("probe", func(b *testing.B) {
		for b.Loop() {
			if _, err := remote.Probe(ctx, conn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-calls", func(b *testing.B) {
		for b.Loop() {
			if _, err := remote.CurrentSystem(ctx, conn); err != nil {
				b.Fatal(err)
			}
			if _, err := remote.Generations(ctx, conn); err != nil {
				b.Fatal(err)
			}
			if _, _, err := remote.BootedFiles(ctx, conn); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("three-calls-concurrent", func(b *testing.B) {
		for b.Loop() {
			var g errgroup.Group
			g.Go(func() error { _, err := remote.CurrentSystem(ctx, conn); return err })
			g.Go(func() error { _, err := remote.Generations(ctx, conn); return err })
			g.Go(func() error { _, _, err := remote.BootedFiles(ctx, conn); return err })
			if err := g.Wait(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func splitLines(b []byte) []string {
	var out []string
	start := 0
	for i, c := range b {
		if c == '\n' {
			if i > start {
				out = append(out, string(b[start:i]))
			}
			start = i + 1
		}
	}
	return out
}
