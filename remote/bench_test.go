package remote_test

import (
	"context"
	"os"
	"os/exec"
	"testing"

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
