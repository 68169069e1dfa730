package remote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// actions returns what the stub switch-to-configuration recorded on h, as
// "ACTION NAME" lines (NAME: good, alt, ...).
func actions(t *testing.T, h testhosts.Host) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(h.Root, "run", "ferry-test-actions"))
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
		action, path, _ := strings.Cut(line, " ")
		out = append(out, action+" "+path[strings.LastIndex(path, "-")+1:])
	}
	return out
}

func hostState(t *testing.T, h testhosts.Host) (current, profile string) {
	t.Helper()
	current, err := h.CurrentSystem()
	if err != nil {
		t.Fatal(err)
	}
	profile, err = h.SystemProfile()
	if err != nil {
		t.Fatal(err)
	}
	return current, profile
}

func dial(t *testing.T, d *remote.Dialer, h testhosts.Host) *remote.Conn {
	t.Helper()
	conn, err := d.Dial(context.Background(), h.Target())
	if err != nil {
		t.Fatal(err)
	}
	return conn
}

func copyTo(t *testing.T, conn *remote.Conn, path string) remote.CopyStats {
	t.Helper()
	stats, err := remote.CopyClosure(context.Background(), conn, []string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return stats
}

// TestDeployAFleet is a whole run on fresh hosts: three hosts in parallel,
// each over one connection, copy (only what is missing), switch, copy and boot
// another system, read generations.
func TestDeployAFleet(t *testing.T) {
	_, sys := fixture(t)
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 3})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()

	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()

	type result struct {
		before               string
		first, second, third remote.CopyStats
		progress             []remote.CopyProgress
		currentAfterSwitch   string
		generations          []remote.Generation
	}
	results := make([]result, len(fleet.Hosts))
	var g errgroup.Group
	for i, h := range fleet.Hosts {
		g.Go(func() error {
			r := &results[i]
			conn, err := d.Dial(ctx, h.Target())
			if err != nil {
				return err
			}
			if r.before, err = remote.CurrentSystem(ctx, conn); err != nil {
				return err
			}
			var mu sync.Mutex
			r.first, err = remote.CopyClosure(ctx, conn, []string{sys["good"]}, func(p remote.CopyProgress) {
				mu.Lock()
				r.progress = append(r.progress, p)
				mu.Unlock()
			})
			if err != nil {
				return err
			}
			if r.second, err = remote.CopyClosure(ctx, conn, []string{sys["good"]}, nil); err != nil {
				return err
			}
			if err := remote.Activate(ctx, conn, sys["good"], remote.ActionSwitch); err != nil {
				return err
			}
			if r.currentAfterSwitch, err = remote.CurrentSystem(ctx, conn); err != nil {
				return err
			}
			if r.third, err = remote.CopyClosure(ctx, conn, []string{sys["alt"]}, nil); err != nil {
				return err
			}
			if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionBoot); err != nil {
				return err
			}
			r.generations, err = remote.Generations(ctx, conn)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		t.Fatal(err)
	}

	closure := localClosure(t, sys["good"])
	for i, h := range fleet.Hosts {
		r := results[i]
		if r.before != "" {
			t.Errorf("%s: current system before the first switch = %q, want none", h.Name, r.before)
		}
		if r.first.Paths != 3 || r.first.Closure != 3 || r.first.Bytes == 0 {
			t.Errorf("%s: first copy %+v, want the 3 paths of the closure", h.Name, r.first)
		}
		if want := (remote.CopyStats{Closure: 3}); r.second != want {
			t.Errorf("%s: second copy %+v, want %+v (nothing sent)", h.Name, r.second, want)
		}
		if r.third.Paths != 2 || r.third.Closure != 3 {
			t.Errorf("%s: copy of alt %+v, want 2 of 3 paths (the shared lib is there)", h.Name, r.third)
		}
		if len(r.progress) < 2 || r.progress[0].SentBytes != 0 || r.progress[0].Paths != 3 || r.progress[0].TotalBytes == 0 {
			t.Errorf("%s: progress %+v, want a first report of 3 paths with their size", h.Name, r.progress)
		} else if last := r.progress[len(r.progress)-1]; !last.Done || last.SentBytes != r.first.Bytes {
			t.Errorf("%s: last progress %+v, want done with %d bytes", h.Name, last, r.first.Bytes)
		}
		for _, p := range closure {
			if !h.HasPath(p) {
				t.Errorf("%s: %s missing from the host's store", h.Name, p)
			}
		}
		if r.currentAfterSwitch != sys["good"] {
			t.Errorf("%s: CurrentSystem over SSH = %q, want %q", h.Name, r.currentAfterSwitch, sys["good"])
		}
		current, profile := hostState(t, h)
		if current != sys["good"] || profile != sys["alt"] {
			t.Errorf("%s: current system %q, profile %q; want good (switched) and alt (boot)", h.Name, current, profile)
		}
		if diff := cmp.Diff([]string{"switch good", "boot alt"}, actions(t, h)); diff != "" {
			t.Errorf("%s: actions (-want +got):\n%s", h.Name, diff)
		}
		var gens []string
		for _, g := range r.generations {
			mark := ""
			if g.Current {
				mark = " (current)"
			}
			gens = append(gens, filepath.Base(g.Path)[33:]+mark)
			if g.Date.IsZero() {
				t.Errorf("%s: generation %d has no date", h.Name, g.Number)
			}
		}
		if diff := cmp.Diff([]string{"ferry-test-system-good", "ferry-test-system-alt (current)"}, gens); diff != "" {
			t.Errorf("%s: generations (-want +got):\n%s", h.Name, diff)
		}

		// All of that went over a single SSH connection per host.
		if n, err := h.AcceptedLogins(); err != nil || n != 1 {
			t.Errorf("%s: sshd accepted %d logins (%v), want 1", h.Name, n, err)
		}
		if got := d.HostKeys()[h.Address()]; got != h.HostKey {
			t.Errorf("%s: recorded host key %q, want %q", h.Name, got, h.HostKey)
		}
	}
}

func localClosure(t *testing.T, path string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "-qR", path).Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.Fields(string(out))
}

func TestTestAndDryActivateLeaveTheProfile(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	ctx := context.Background()
	copyTo(t, conn, sys["alt"])
	copyTo(t, conn, sys["spare"])
	_, profileBefore := hostState(t, h)

	if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionTest); err != nil {
		t.Fatal(err)
	}
	current, profile := hostState(t, h)
	if current != sys["alt"] || profile != profileBefore {
		t.Errorf("after test: current %q, profile %q; want alt and the profile unchanged (%q)", current, profile, profileBefore)
	}

	if err := remote.Activate(ctx, conn, sys["spare"], remote.ActionDryActivate); err != nil {
		t.Fatal(err)
	}
	current, profile = hostState(t, h)
	if current != sys["alt"] || profile != profileBefore {
		t.Errorf("after dry-activate: current %q, profile %q; want both unchanged", current, profile)
	}
	got := actions(t, h)
	if diff := cmp.Diff([]string{"test alt", "dry-activate spare"}, got[len(got)-2:]); diff != "" {
		t.Errorf("last actions (-want +got):\n%s", diff)
	}
}

func TestFailingActivationCarriesTheOutput(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	copyTo(t, conn, sys["broken"])

	err := remote.Activate(context.Background(), conn, sys["broken"], remote.ActionSwitch)
	var exit *remote.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("got %v, want *ExitError", err)
	}
	if exit.Code != 4 || exit.Host != h.Address() {
		t.Errorf("ExitError code %d on %q, want 4 on %s", exit.Code, exit.Host, h.Address())
	}
	tail := strings.Split(strings.TrimSpace(exit.Tail), "\n")
	if len(tail) != 20 || tail[0] != "starting unit-7.service" || tail[19] != "error: unit broken.service failed to start" {
		t.Errorf("tail = %q, want the last 20 lines", tail)
	}
	for _, want := range []string{"switch-to-configuration switch on " + h.Address(), "exited with status 4", "broken.service failed"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not contain %q:\n%s", want, err)
		}
	}
	// As on NixOS, the generation was added before the activation failed.
	if _, profile := hostState(t, h); profile != sys["broken"] {
		t.Errorf("profile = %q, want the broken system", profile)
	}
}

func TestActivateRefusesBadRequests(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	ctx := context.Background()

	if err := remote.Activate(ctx, conn, sys["good"], "reboot"); err == nil || !strings.Contains(err.Error(), `unknown action "reboot"`) {
		t.Errorf("unknown action: got %v", err)
	}
	_, profileBefore := hostState(t, h)
	notCopied := "/nix/store/00000000000000000000000000000000-not-copied"
	err := remote.Activate(ctx, conn, notCopied, remote.ActionSwitch)
	if err == nil || !strings.Contains(err.Error(), "is missing on the host: copy the closure first") {
		t.Errorf("activating a path the host lacks: got %v", err)
	}
	if _, profile := hostState(t, h); profile != profileBefore {
		t.Errorf("profile changed to %q by a refused activation", profile)
	}
}

func TestRollback(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	ctx := context.Background()
	for _, name := range []string{"good", "alt"} {
		copyTo(t, conn, sys[name])
		if err := remote.Activate(ctx, conn, sys[name], remote.ActionSwitch); err != nil {
			t.Fatal(err)
		}
	}
	gens, err := remote.Generations(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(gens); n < 2 || gens[n-1].Path != sys["alt"] || !gens[n-1].Current || gens[n-2].Path != sys["good"] {
		t.Fatalf("generations %+v, want good then alt (current) last", gens)
	}
	altGen := gens[len(gens)-1].Number

	if err := remote.Rollback(ctx, conn, 0); err != nil {
		t.Fatal(err)
	}
	if current, profile := hostState(t, h); current != sys["good"] || profile != sys["good"] {
		t.Errorf("after rollback: current %q, profile %q; want good", current, profile)
	}
	if err := remote.Rollback(ctx, conn, altGen); err != nil {
		t.Fatal(err)
	}
	if current, profile := hostState(t, h); current != sys["alt"] || profile != sys["alt"] {
		t.Errorf("after rollback to generation %d: current %q, profile %q; want alt", altGen, current, profile)
	}
	err = remote.Rollback(ctx, conn, 9999)
	if err == nil || !strings.Contains(err.Error(), "generation 9999") {
		t.Errorf("rollback to a missing generation: got %v", err)
	}
}

func TestHostKeyMismatchOnARealHost(t *testing.T) {
	fleet, _ := fixture(t)
	h1, h2 := fleet.Hosts[0], fleet.Hosts[1]
	logins, err := h1.AcceptedLogins()
	if err != nil {
		t.Fatal(err)
	}
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	target := h1.Target()
	target.HostKey = h2.HostKey // as if h1 had been replaced by another machine

	_, err = d.Dial(context.Background(), target)
	var mm *remote.HostKeyMismatchError
	if !errors.As(err, &mm) {
		t.Fatalf("got %v, want *HostKeyMismatchError", err)
	}
	if diff := cmp.Diff(remote.HostKeyMismatchError{Host: h1.Address(), Want: h2.HostKey, Got: h1.HostKey}, *mm); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
	if n, _ := h1.AcceptedLogins(); n != logins {
		t.Errorf("the client logged in to a host whose key did not match")
	}
}

func TestNixStoreMissingOnTheHost(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)

	_, err := remote.CopyClosureWithRemoteNixStore(context.Background(), conn, []string{sys["spare"]}, "nix-store-not-installed")
	var nf *remote.NixNotFoundError
	if !errors.As(err, &nf) {
		t.Fatalf("got %v, want *NixNotFoundError", err)
	}
	want := "nix-store-not-installed not found on " + h.Address() + ": is this a NixOS host?"
	if !strings.HasSuffix(err.Error(), want) {
		t.Errorf("message %q does not end with %q", err, want)
	}
}

func TestCopyFailingOnTheHostNamesIt(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)

	// The hosts share /tmp with this machine: a nix-store that answers
	// queries but runs out of space while importing.
	fake := filepath.Join(t.TempDir(), "nix-store-disk-full")
	script := `#!/bin/sh
if [ "$1" = --import ]; then
  head -c 100 >/dev/null
  echo "error: writing to file: No space left on device" >&2
  exit 1
fi
exec nix-store "$@"
`
	if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
		t.Fatal(err)
	}
	_, err := remote.CopyClosureWithRemoteNixStore(context.Background(), conn, []string{sys["spare"]}, fake)
	var exit *remote.ExitError
	if !errors.As(err, &exit) {
		t.Fatalf("got %v, want *ExitError", err)
	}
	for _, want := range []string{"store paths to " + h.Address(), "No space left on device"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message does not contain %q:\n%s", want, err)
		}
	}
	if h.HasPath(sys["spare"]) {
		t.Errorf("%s is on the host after a failed copy", sys["spare"])
	}
}
