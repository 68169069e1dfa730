package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// switchTo copies sys to the host and switches to it.
func switchTo(t *testing.T, conn *remote.Conn, sys string) {
	t.Helper()
	copyTo(t, conn, sys)
	if err := remote.Activate(context.Background(), conn, sys, remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
}

// profileGeneration is the generation number the host's system profile
// points to.
func profileGeneration(t *testing.T, h testhosts.Host) string {
	t.Helper()
	link, err := os.Readlink(filepath.Join(h.Root, remote.SystemProfile))
	if err != nil {
		t.Fatal(err)
	}
	return link
}

func wait(t *testing.T, w *remote.Watchdog, conn *remote.Conn) remote.WatchdogOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	out, err := w.Wait(ctx, conn)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// armAfter switches h to previous, arms a watchdog for action and activates
// next with it, as apply does.
func armAfter(t *testing.T, d *remote.Dialer, h testhosts.Host, previous, next, action string, timeout time.Duration) (*remote.Watchdog, *remote.Conn) {
	t.Helper()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, previous)
	copyTo(t, conn, next)
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: timeout, Action: action})
	if err != nil {
		t.Fatal(err)
	}
	if w.Previous != previous {
		t.Errorf("Previous = %q, want %q", w.Previous, previous)
	}
	if want := profileGeneration(t, h); w.PreviousGeneration == 0 || want != "system-"+strconv.Itoa(w.PreviousGeneration)+"-link" {
		t.Errorf("PreviousGeneration = %d, profile is %s", w.PreviousGeneration, want)
	}
	if err := remote.Activate(ctx, conn, next, action); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx, conn); err != nil {
		t.Fatal(err)
	}
	return w, conn
}

func TestWatchdogConfirmedKeepsTheNewSystem(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	w, conn := armAfter(t, d, h, sys["good"], sys["alt"], remote.ActionSwitch, 5*time.Second)
	newGen := profileGeneration(t, h)

	fresh, closeFresh, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	defer closeFresh()
	if err := w.Confirm(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	out := wait(t, w, conn)
	if out.State != remote.WatchdogConfirmed || out.System != sys["alt"] || !strings.Contains(out.Output, "confirmed") {
		t.Errorf("outcome %+v, want confirmed on alt", out)
	}
	if current, profile := hostState(t, h); current != sys["alt"] || profile != sys["alt"] || profileGeneration(t, h) != newGen {
		t.Errorf("current %q, profile %q: want alt kept", current, profile)
	}
	// Confirming twice is fine; rolling back through it is refused.
	if err := w.Confirm(ctx, fresh); err != nil {
		t.Errorf("second Confirm: %v", err)
	}
	if err := w.Trigger(ctx, conn); err == nil || !strings.Contains(err.Error(), "already confirmed") {
		t.Errorf("Trigger after Confirm: got %v", err)
	}
}

func TestWatchdogWithoutConfirmationRollsBack(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, sys["good"])
	copyTo(t, conn, sys["alt"])
	prevGen := profileGeneration(t, h)

	// Armed over a connection that then ends: the watchdog outlives it.
	armConn, closeArm, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	w, err := remote.ArmWatchdog(ctx, armConn, remote.WatchdogOptions{Timeout: time.Second, Action: remote.ActionSwitch})
	if err != nil {
		t.Fatal(err)
	}
	closeArm()
	if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx, conn); err != nil {
		t.Fatal(err)
	}
	out := wait(t, w, conn)
	if took := time.Since(start); took < time.Second {
		t.Errorf("rolled back after %v, before the 1s timeout", took)
	}
	if out.State != remote.WatchdogRolledBack || out.System != sys["good"] {
		t.Errorf("outcome %+v, want rolled back to good", out)
	}
	for _, want := range []string{"no confirmation in time", "back to generation", "rolled back to " + sys["good"]} {
		if !strings.Contains(out.Output, want) {
			t.Errorf("log does not contain %q:\n%s", want, out.Output)
		}
	}
	if current, profile := hostState(t, h); current != sys["good"] || profile != sys["good"] {
		t.Errorf("current %q, profile %q; want good", current, profile)
	}
	if got := profileGeneration(t, h); got != prevGen {
		t.Errorf("profile at %s, want the previous generation %s", got, prevGen)
	}
	if got := actions(t, h); got[len(got)-1] != "switch good" {
		t.Errorf("last action %q, want the rollback's switch good", got[len(got)-1])
	}
	err = w.Confirm(ctx, conn)
	if err == nil || !strings.Contains(err.Error(), "too late: the watchdog already timed out after 1s") || !strings.Contains(err.Error(), h.Address()) {
		t.Errorf("Confirm after the rollback: got %v", err)
	}
	if err := w.Disarm(ctx, conn); err == nil {
		t.Errorf("Disarm after the rollback succeeded")
	}
}

func TestWatchdogTriggerRollsBackAtOnce(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	// A test activation: the rollback runs test too and the profile stays.
	w, conn := armAfter(t, d, h, sys["good"], sys["spare"], remote.ActionTest, time.Minute)
	profileBefore := profileGeneration(t, h)
	start := time.Now()
	if err := w.Trigger(ctx, conn); err != nil {
		t.Fatal(err)
	}
	out := wait(t, w, conn)
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("rollback took %v", took)
	}
	if out.State != remote.WatchdogRolledBack || out.System != sys["good"] || !strings.Contains(out.Output, "rollback requested") {
		t.Errorf("outcome %+v, want rolled back to good on request", out)
	}
	if got := actions(t, h); got[len(got)-1] != "test good" {
		t.Errorf("last action %q, want the rollback's test good", got[len(got)-1])
	}
	if got := profileGeneration(t, h); got != profileBefore {
		t.Errorf("profile moved to %s by a test rollback", got)
	}
	if err := w.Trigger(ctx, conn); err != nil {
		t.Errorf("second Trigger: %v", err)
	}
	if err := w.Confirm(ctx, conn); err == nil || !strings.Contains(err.Error(), "a rollback of "+h.Address()+" to "+sys["good"]+" was already requested") {
		t.Errorf("Confirm after Trigger: got %v", err)
	}
}

func TestWatchdogDisarmLeavesTheNewSystem(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	w, conn := armAfter(t, d, h, sys["alt"], sys["good"], remote.ActionSwitch, 500*time.Millisecond)
	if err := w.Disarm(ctx, conn); err != nil {
		t.Fatal(err)
	}
	time.Sleep(time.Second) // past the timeout
	if out := wait(t, w, conn); out.State != remote.WatchdogDisarmed || out.System != sys["good"] {
		t.Errorf("outcome %+v, want disarmed on good", out)
	}
	if current, profile := hostState(t, h); current != sys["good"] || profile != sys["good"] {
		t.Errorf("current %q, profile %q; want good kept", current, profile)
	}
}

func TestWatchdogConfirmRacesTheTimeout(t *testing.T) {
	// Whoever wins, Confirm's answer and the outcome agree.
	fleet, sys := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	for _, delay := range []time.Duration{0, 80 * time.Millisecond, 150 * time.Millisecond, 400 * time.Millisecond} {
		w, conn := armAfter(t, d, h, sys["good"], sys["alt"], remote.ActionSwitch, 100*time.Millisecond)
		time.Sleep(delay)
		confirmErr := w.Confirm(ctx, conn)
		out := wait(t, w, conn)
		switch {
		case confirmErr == nil && (out.State != remote.WatchdogConfirmed || out.System != sys["alt"]):
			t.Errorf("delay %v: Confirm succeeded but outcome %+v", delay, out)
		case confirmErr != nil && (out.State != remote.WatchdogRolledBack || out.System != sys["good"]):
			t.Errorf("delay %v: Confirm failed (%v) but outcome %+v", delay, confirmErr, out)
		}
		t.Logf("delay %v: confirmed %v", delay, confirmErr == nil)
	}
}

func TestWatchdogWithNothingToRollBackTo(t *testing.T) {
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
	copyTo(t, conn, sys["good"])
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Action: remote.ActionSwitch})
	if err != nil {
		t.Fatal(err)
	}
	if w.Previous != "" || w.PreviousGeneration != 0 || len(w.ID) < 16 {
		t.Errorf("watchdog %+v on a fresh host, want no previous system", w)
	}
	if err := remote.Activate(ctx, conn, sys["good"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if err := w.Trigger(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogNoPrevious || out.System != sys["good"] {
		t.Errorf("outcome %+v, want no-previous with good left running", out)
	}
	if _, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Action: remote.ActionBoot}); err == nil || !strings.Contains(err.Error(), `action "boot" cannot be guarded`) {
		t.Errorf("arming for boot: got %v", err)
	}
}

// TestWatchdogTimerStartsAfterTheActivation: the confirmation timeout
// counts from Start, so a slow activation is not rolled back under it; a
// watchdog never started (the activation cut ferry off) rolls back after
// StartTimeout.
func TestWatchdogTimerStartsAfterTheActivation(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, sys["good"])
	copyTo(t, conn, sys["alt"])
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: 200 * time.Millisecond, StartTimeout: time.Minute, Action: remote.ActionSwitch})
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(700 * time.Millisecond) // a slow activation: longer than Timeout
	if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if err := w.Confirm(ctx, conn); err != nil {
		t.Fatalf("confirm right after a slow activation: %v", err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogConfirmed || out.System != sys["alt"] {
		t.Errorf("outcome %+v, want alt confirmed", out)
	}

	// Never started: rolled back after StartTimeout.
	w, err = remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: time.Minute, StartTimeout: 500 * time.Millisecond, Action: remote.ActionSwitch})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Activate(ctx, conn, sys["good"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogRolledBack || out.System != sys["alt"] {
		t.Errorf("outcome %+v, want rolled back to alt", out)
	}
	err = w.Confirm(ctx, conn)
	if !errors.Is(err, remote.ErrWatchdogDecided) {
		t.Errorf("confirm after the rollback: %v, want ErrWatchdogDecided", err)
	}
}

// waitForFile waits until path exists on this machine (a host's file seen
// from outside), polling: the event tests wait for.
func waitForFile(t *testing.T, path string, within time.Duration) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		if _, err := os.Lstat(path); err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not appear within %v", path, within)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWatchdogLeftPendingIsSupersededByTheNextDeploy: a run killed between
// activation and confirmation leaves its watchdog pending; the next deploy
// arms its own, which disarms the old one through its decision link first,
// so that the old one never rolls the new deploy back.
func TestWatchdogLeftPendingIsSupersededByTheNextDeploy(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, sys["good"])
	copyTo(t, conn, sys["alt"])
	copyTo(t, conn, sys["spare"])

	// The interrupted run: its connection is cut after the activation,
	// before the confirmation.
	cut, closeCut, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	old, err := remote.ArmWatchdog(ctx, cut, remote.WatchdogOptions{Timeout: time.Minute, Action: remote.ActionSwitch, System: sys["alt"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Activate(ctx, cut, sys["alt"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if err := old.Start(ctx, cut); err != nil {
		t.Fatal(err)
	}
	closeCut()
	if p := probe(t, conn).PendingWatchdogs; len(p) != 1 || p[0].ID != old.ID || !p[0].Alive || !p[0].Started || p[0].Previous != sys["good"] {
		t.Fatalf("pending watchdogs %+v, want the interrupted run's", p)
	}

	// The next run arms, activates, confirms.
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: 30 * time.Second, Action: remote.ActionSwitch, System: sys["spare"]})
	if err != nil {
		t.Fatal(err)
	}
	if len(w.Superseded) != 1 || w.Superseded[0].ID != old.ID || w.Superseded[0].System != sys["alt"] || w.Superseded[0].Previous != sys["good"] {
		t.Errorf("Superseded = %+v, want the interrupted run's watchdog", w.Superseded)
	}
	if w.Previous != sys["alt"] {
		t.Errorf("Previous = %q, want alt, what the host runs", w.Previous)
	}
	decision, err := os.Readlink(filepath.Join(h.Root, remote.WatchdogDir, "watchdog-"+old.ID+".decision"))
	if err != nil || decision != "disarmed" {
		t.Errorf("the old watchdog's decision link: %q, %v; want disarmed", decision, err)
	}
	if err := remote.Activate(ctx, conn, sys["spare"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	if err := w.Start(ctx, conn); err != nil {
		t.Fatal(err)
	}
	fresh, closeFresh, err := d.DialFresh(ctx, h.Target())
	if err != nil {
		t.Fatal(err)
	}
	defer closeFresh()
	if err := w.Confirm(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogConfirmed || out.System != sys["spare"] {
		t.Errorf("outcome %+v, want spare confirmed", out)
	}

	// The old watchdog read its decision and ended: nothing is left that
	// could roll the host back.
	out := wait(t, old, conn)
	if out.State != remote.WatchdogDisarmed || out.System != sys["spare"] || !strings.Contains(out.Output, "superseded by watchdog "+w.ID) {
		t.Errorf("old watchdog's outcome %+v, want disarmed, superseded by %s, spare running", out, w.ID)
	}
	if err := old.Trigger(ctx, conn); !errors.Is(err, remote.ErrWatchdogKept) {
		t.Errorf("Trigger of the old watchdog: %v, want ErrWatchdogKept", err)
	}
	if p := probe(t, conn).PendingWatchdogs; len(p) != 0 {
		t.Errorf("pending watchdogs %+v, want none", p)
	}
	if current, profile := hostState(t, h); current != sys["spare"] || profile != sys["spare"] {
		t.Errorf("current %q, profile %q; want spare", current, profile)
	}
	if got := actions(t, h); got[len(got)-1] != "switch spare" {
		t.Errorf("last action %q, want the second run's switch spare", got[len(got)-1])
	}
}

// TestArmWaitsForAnOlderRollback: a watchdog of an interrupted run that is
// rolling back right now makes ArmWatchdog and DisarmPending fail, rather
// than race with the rollback; once it finished, arming works.
func TestArmWaitsForAnOlderRollback(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, sys["holding"])
	copyTo(t, conn, sys["alt"])
	old, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: time.Minute, Action: remote.ActionSwitch, System: sys["alt"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	// Hold the rollback to "holding" in its switch-to-configuration.
	hold := filepath.Join(h.Root, "run", "ferry-test", "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	released := false
	release := func() {
		if !released {
			released = true
			os.Remove(hold)
		}
	}
	defer release()
	if err := old.Trigger(ctx, conn); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(h.Root, "run", "ferry-test", "holding"), 15*time.Second)

	_, err = remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Action: remote.ActionSwitch})
	if !errors.Is(err, remote.ErrWatchdogRollingBack) || !strings.Contains(err.Error(), old.ID) || !strings.Contains(err.Error(), sys["holding"]) {
		t.Errorf("ArmWatchdog during a rollback: %v, want ErrWatchdogRollingBack naming %s", err, old.ID)
	}
	if _, err := remote.DisarmPending(ctx, conn); !errors.Is(err, remote.ErrWatchdogRollingBack) {
		t.Errorf("DisarmPending during a rollback: %v, want ErrWatchdogRollingBack", err)
	}
	if p := probe(t, conn).PendingWatchdogs; len(p) != 0 {
		t.Errorf("pending watchdogs %+v: a watchdog that decided is not pending", p)
	}

	release()
	if out := wait(t, old, conn); out.State != remote.WatchdogRolledBack || out.System != sys["holding"] {
		t.Errorf("outcome %+v, want rolled back to holding", out)
	}
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Action: remote.ActionSwitch})
	if err != nil {
		t.Fatalf("ArmWatchdog after the rollback: %v", err)
	}
	if len(w.Superseded) != 0 {
		t.Errorf("Superseded = %+v, want none", w.Superseded)
	}
	if err := w.Disarm(ctx, conn); err != nil {
		t.Fatal(err)
	}
}
