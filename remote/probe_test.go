package remote_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

func probe(t *testing.T, conn *remote.Conn) remote.HostFacts {
	t.Helper()
	facts, err := remote.Probe(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	return facts
}

func bootIDOf(t *testing.T, h testhosts.Host) string {
	t.Helper()
	b, err := os.ReadFile(h.BootIDFile())
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(b))
}

// linkBooted points the host's /run/booted-system at sys, as a boot does
// (testhosts does it on reboot).
func linkBooted(t *testing.T, h testhosts.Host, sys string) {
	t.Helper()
	link := filepath.Join(h.Root, "run", "booted-system")
	os.Remove(link)
	if err := os.Symlink(sys, link); err != nil {
		t.Fatal(err)
	}
}

// TestProbe reads a host in its stages, and checks that Probe agrees with
// CurrentSystem, Generations and BootedFiles at each.
func TestProbe(t *testing.T) {
	_, sys := fixture(t)
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 1})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)

	// agrees checks Probe's facts against the separate reads.
	agrees := func(t *testing.T, facts remote.HostFacts) {
		t.Helper()
		cur, err := remote.CurrentSystem(ctx, conn)
		if err != nil || cur != facts.Current {
			t.Errorf("CurrentSystem = %q, %v; Probe says %q", cur, err, facts.Current)
		}
		gens, err := remote.Generations(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		g, ok := remote.CurrentGeneration(gens)
		g.Date = time.Time{} // Probe does not read dates
		if ok != facts.ProfileKnown || g != facts.Profile {
			t.Errorf("CurrentGeneration = %+v, %v; Probe says %+v, %v", g, ok, facts.Profile, facts.ProfileKnown)
		}
		files, booted, err := remote.BootedFiles(ctx, conn)
		if err != nil || booted != facts.BootedKnown || files != facts.Booted {
			t.Errorf("BootedFiles = %+v, %v, %v; Probe says %+v, %v", files, booted, err, facts.Booted, facts.BootedKnown)
		}
		id, err := remote.BootID(ctx, conn)
		if err != nil || id != facts.BootID {
			t.Errorf("BootID = %q, %v; Probe says %q", id, err, facts.BootID)
		}
	}

	t.Run("a host with no system", func(t *testing.T) {
		before := time.Now().Add(-time.Second)
		facts := probe(t, conn)
		want := remote.HostFacts{BootID: bootIDOf(t, h), Time: facts.Time}
		if diff := cmp.Diff(want, facts); diff != "" {
			t.Errorf("facts (-want +got):\n%s", diff)
		}
		if facts.Time.Before(before.Truncate(time.Second)) || facts.Time.After(time.Now()) {
			t.Errorf("host time %v, want about now", facts.Time)
		}
		agrees(t, facts)
	})

	t.Run("a host with a profile", func(t *testing.T) {
		switchTo(t, conn, sys["good"])
		switchTo(t, conn, sys["alt"])
		facts := probe(t, conn)
		if facts.Current != sys["alt"] || !facts.ProfileKnown || facts.Profile.Number != 2 || facts.Profile.Path != sys["alt"] ||
			!facts.Profile.Current {
			t.Errorf("facts %+v, want alt current, in generation 2 of the profile", facts)
		}
		if facts.BootedKnown || len(facts.PendingWatchdogs) != 0 {
			t.Errorf("facts %+v, want no booted system and no watchdogs", facts)
		}
		agrees(t, facts)
	})

	t.Run("booted systems", func(t *testing.T) {
		copyTo(t, conn, sys["boot1"])
		linkBooted(t, h, sys["boot1"])
		facts := probe(t, conn)
		if diff := cmp.Diff(localBootFiles(t, sys["boot1"]), facts.Booted); diff != "" || !facts.BootedKnown {
			t.Errorf("booted files (-want +got):\n%s", diff)
		}
		agrees(t, facts)
		// A booted system without boot files (a container): known, the
		// files unknown.
		linkBooted(t, h, sys["good"])
		facts = probe(t, conn)
		if !facts.BootedKnown || facts.Booted != (remote.BootFiles{}) {
			t.Errorf("booted %v, files %+v; want known, none of the files", facts.BootedKnown, facts.Booted)
		}
		agrees(t, facts)
	})

	t.Run("a dangling link is read as it is", func(t *testing.T) {
		link := filepath.Join(h.Root, "run", "current-system")
		before, err := os.Readlink(link)
		if err != nil {
			t.Fatal(err)
		}
		gone := "/nix/store/00000000000000000000000000000000-gone"
		os.Remove(link)
		if err := os.Symlink(gone, link); err != nil {
			t.Fatal(err)
		}
		facts := probe(t, conn)
		os.Remove(link)
		if err := os.Symlink(before, link); err != nil {
			t.Fatal(err)
		}
		if facts.Current != gone {
			t.Errorf("current system %q, want %q", facts.Current, gone)
		}
	})

	t.Run("a pending watchdog left by a dropped connection", func(t *testing.T) {
		copyTo(t, conn, sys["spare"])
		// The interrupted run: arm and activate over a connection that then
		// drops before Start and Confirm.
		cut, closeCut, err := d.DialFresh(ctx, h.Target())
		if err != nil {
			t.Fatal(err)
		}
		w, err := remote.ArmWatchdog(ctx, cut, remote.WatchdogOptions{Timeout: time.Minute, StartTimeout: 2 * time.Minute, Action: remote.ActionSwitch, System: sys["spare"]})
		if err != nil {
			t.Fatal(err)
		}
		if err := remote.Activate(ctx, cut, sys["spare"], remote.ActionSwitch); err != nil {
			t.Fatal(err)
		}
		closeCut()

		facts := probe(t, conn)
		if len(facts.PendingWatchdogs) != 1 {
			t.Fatalf("pending watchdogs %+v, want the one armed", facts.PendingWatchdogs)
		}
		p := facts.PendingWatchdogs[0]
		want := remote.PendingWatchdog{
			ID: w.ID, Previous: sys["alt"], PreviousGeneration: 2, System: sys["spare"], Action: remote.ActionSwitch,
			Armed: p.Armed, Alive: true, Deadline: p.Armed.Add(2 * time.Minute),
		}
		if diff := cmp.Diff(want, p); diff != "" || p.Armed.IsZero() || p.Armed.After(facts.Time) {
			t.Errorf("pending watchdog (-want +got):\n%s", diff)
		}
		if facts.Current != sys["spare"] || facts.Profile.Number != 3 {
			t.Errorf("current %s, generation %d: want spare in generation 3", facts.Current, facts.Profile.Number)
		}
		msg := p.String()
		for _, s := range []string{"a switch to " + sys["spare"], "not confirmed", "switch back to " + sys["alt"], w.ID} {
			if !strings.Contains(msg, s) {
				t.Errorf("String() %q lacks %q", msg, s)
			}
		}

		// Started: the confirmation timer runs, the deadline moves.
		if err := w.Start(ctx, conn); err != nil {
			t.Fatal(err)
		}
		facts = probe(t, conn)
		p = facts.PendingWatchdogs[0]
		if !p.Started || !p.Alive || p.Deadline.Before(p.Armed.Add(time.Minute)) || p.Deadline.After(facts.Time.Add(time.Minute)) {
			t.Errorf("after Start: %+v, want started, a deadline a minute after the start", p)
		}

		// DisarmPending decides for it; nothing is pending any more.
		disarmed, err := remote.DisarmPending(ctx, conn)
		if err != nil {
			t.Fatal(err)
		}
		if len(disarmed) != 1 || disarmed[0].ID != w.ID || disarmed[0].System != sys["spare"] {
			t.Errorf("DisarmPending = %+v, want the watchdog", disarmed)
		}
		if out := wait(t, w, conn); out.State != remote.WatchdogDisarmed || out.System != sys["spare"] || !strings.Contains(out.Output, "disarmed by a later ferry run") {
			t.Errorf("outcome %+v, want disarmed on spare", out)
		}
		if facts := probe(t, conn); len(facts.PendingWatchdogs) != 0 {
			t.Errorf("pending watchdogs %+v after DisarmPending", facts.PendingWatchdogs)
		}
		if again, err := remote.DisarmPending(ctx, conn); err != nil || len(again) != 0 {
			t.Errorf("second DisarmPending = %+v, %v; want nothing to do", again, err)
		}
	})

	t.Run("a pending watchdog whose process died", func(t *testing.T) {
		w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: time.Minute, Action: remote.ActionTest, System: sys["good"]})
		if err != nil {
			t.Fatal(err)
		}
		// Kill the watchdog this test started (its pid is in its file).
		pidFile := remote.WatchdogDir + "/watchdog-" + w.ID + ".pid"
		if err := conn.Run(ctx, `pid=$(cat `+remote.Quote(pidFile)+`) && kill "$pid" && while grep -q . "/proc/$pid/cmdline" 2>/dev/null; do sleep 0.01; done`, remote.RunOptions{}); err != nil {
			t.Fatal(err)
		}
		facts := probe(t, conn)
		if len(facts.PendingWatchdogs) != 1 || facts.PendingWatchdogs[0].ID != w.ID || facts.PendingWatchdogs[0].Alive {
			t.Fatalf("pending watchdogs %+v, want %s, not alive", facts.PendingWatchdogs, w.ID)
		}
		if msg := facts.PendingWatchdogs[0].String(); !strings.Contains(msg, "no longer running") {
			t.Errorf("String() = %q", msg)
		}
		// Disarming it records the outcome its process no longer can.
		disarmed, err := remote.DisarmPending(ctx, conn)
		if err != nil || len(disarmed) != 1 || disarmed[0].Alive {
			t.Errorf("DisarmPending = %+v, %v; want the dead watchdog", disarmed, err)
		}
		if out := wait(t, w, conn); out.State != remote.WatchdogDisarmed {
			t.Errorf("outcome %+v, want disarmed", out)
		}
	})
}

// TestProbeIsOneCommand: Probe is one exec request, whatever the host has.
func TestProbeIsOneCommand(t *testing.T) {
	key := newKey(t)
	srv := newTestServer(t, key.PublicKey(), func(cmd string, s session) int {
		// This machine stands in for the host.
		c := exec.Command("/bin/sh", "-c", cmd)
		c.Stdout, c.Stderr = s.stdout, s.stderr
		if err := c.Run(); err != nil {
			var exit *exec.ExitError
			if errors.As(err, &exit) {
				return exit.ExitCode()
			}
			return 127
		}
		return 0
	})
	d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true})
	defer d.Close()
	conn, err := d.Dial(context.Background(), srv.target())
	if err != nil {
		t.Fatal(err)
	}
	facts, err := remote.Probe(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.commands()); n != 1 {
		t.Errorf("Probe ran %d commands, want 1", n)
	}
	if facts.BootID == "" || facts.Time.IsZero() {
		t.Errorf("facts %+v, want at least this machine's boot ID and clock", facts)
	}
}
