package remote_test

import (
	"context"
	"errors"
	"io/fs"
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

// eventDeadline bounds the waits for something the host does by itself (a
// watchdog ending, a file appearing). It only turns a hang into a failure,
// so it is generous enough for a loaded machine.
const eventDeadline = 2 * time.Minute

func wait(t *testing.T, w *remote.Watchdog, conn *remote.Conn) remote.WatchdogOutcome {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), eventDeadline)
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

// decisionLink is the watchdog's decision link seen from outside the host:
// whoever creates it first decides.
func decisionLink(h testhosts.Host, w *remote.Watchdog) string {
	return filepath.Join(h.Root, remote.WatchdogDir, "watchdog-"+w.ID+".decision")
}

// holdActivations makes the holding system's switch-to-configuration on h,
// an activation of it or a rollback to it, wait in progress (after creating
// run/ferry-test/holding) until release is called. The test's end releases
// it too, so that a failed test leaves no host held.
func holdActivations(t *testing.T, h testhosts.Host) (release func()) {
	t.Helper()
	dir := filepath.Join(h.Root, "run", "ferry-test")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	hold := filepath.Join(dir, "hold")
	if err := os.WriteFile(hold, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	release = func() {
		if err := os.Remove(hold); err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Error(err)
		}
	}
	t.Cleanup(release)
	return release
}

func TestWatchdogConfirmedKeepsTheNewSystem(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	// The confirmation below must come within the timeout even on a loaded
	// machine: the timeout is what this test does not measure.
	w, conn := armAfter(t, d, h, sys["good"], sys["alt"], remote.ActionSwitch, time.Minute)
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
	// A lower bound only: a busy machine makes the watchdog later, never
	// earlier.
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
	// "At once" is judged by the log, not by a clock: the rollback must be
	// the requested one, never the timeout's.
	w, conn := armAfter(t, d, h, sys["good"], sys["spare"], remote.ActionTest, time.Hour)
	profileBefore := profileGeneration(t, h)
	if err := w.Trigger(ctx, conn); err != nil {
		t.Fatal(err)
	}
	out := wait(t, w, conn)
	if out.State != remote.WatchdogRolledBack || out.System != sys["good"] || !strings.Contains(out.Output, "rollback requested") ||
		strings.Contains(out.Output, "no confirmation in time") {
		t.Errorf("outcome %+v, want rolled back to good on request", out)
	}
	if link, err := os.Readlink(decisionLink(h, w)); err != nil || link != "trigger" {
		t.Errorf("decision link %q (%v), want trigger", link, err)
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
	// The timeout is long, so that Disarm surely comes first; the watchdog
	// then ends at once, so that no timer is left to roll back later.
	w, conn := armAfter(t, d, h, sys["alt"], sys["good"], remote.ActionSwitch, time.Hour)
	if err := w.Disarm(ctx, conn); err != nil {
		t.Fatal(err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogDisarmed || out.System != sys["good"] {
		t.Errorf("outcome %+v, want disarmed on good", out)
	}
	if p := probe(t, conn).PendingWatchdogs; len(p) != 0 {
		t.Errorf("pending watchdogs %+v after Disarm, want none", p)
	}
	if current, profile := hostState(t, h); current != sys["good"] || profile != sys["good"] {
		t.Errorf("current %q, profile %q; want good kept", current, profile)
	}
}

func TestWatchdogConfirmRacesTheTimeout(t *testing.T) {
	// Whoever wins, Confirm's answer and the outcome agree. The delays only
	// vary the race; no outcome is expected of any of them, so a busy
	// machine cannot make this fail.
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

	// Once the timeout decided (its decision link is there), Confirm loses.
	w, conn := armAfter(t, d, h, sys["good"], sys["alt"], remote.ActionSwitch, 100*time.Millisecond)
	waitForFile(t, decisionLink(h, w), eventDeadline)
	if err := w.Confirm(ctx, conn); !errors.Is(err, remote.ErrWatchdogDecided) {
		t.Errorf("Confirm after the timeout decided: %v, want ErrWatchdogDecided", err)
	}
	if out := wait(t, w, conn); out.State != remote.WatchdogRolledBack || out.System != sys["good"] {
		t.Errorf("outcome %+v, want rolled back to good", out)
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
// StartTimeout. The holding system's switch-to-configuration is held in
// progress where the order of the activation and the rollback matters, so
// that no outcome depends on how fast this machine is.
func TestWatchdogTimerStartsAfterTheActivation(t *testing.T) {
	fleet, sys := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	conn := dial(t, d, h)
	switchTo(t, conn, sys["good"])
	copyTo(t, conn, sys["alt"])
	copyTo(t, conn, sys["holding"])
	holding := filepath.Join(h.Root, "run", "ferry-test", "holding")

	// A slow activation: held in progress for five timeouts.
	const timeout = 200 * time.Millisecond
	w, err := remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: timeout, StartTimeout: time.Hour, Action: remote.ActionSwitch, System: sys["holding"]})
	if err != nil {
		t.Fatal(err)
	}
	release := holdActivations(t, h)
	activated := make(chan error, 1)
	go func() { activated <- remote.Activate(ctx, conn, sys["holding"], remote.ActionSwitch) }()
	waitForFile(t, holding, eventDeadline)
	// The activation lasts at least this long (a busy machine makes it
	// longer, which changes nothing): the watchdog must stay undecided.
	for end := time.Now().Add(5 * timeout); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if link, err := os.Readlink(decisionLink(h, w)); err == nil {
			t.Fatalf("the watchdog decided %q during the activation, before Start", link)
		}
	}
	release()
	if err := <-activated; err != nil {
		t.Fatal(err)
	}
	// Activated but not started: still undecided, whatever the time.
	if link, err := os.Readlink(decisionLink(h, w)); !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("decision link %q (%v) after the activation, before Start; want none", link, err)
	}
	if err := w.Start(ctx, conn); err != nil {
		t.Fatal(err)
	}
	// Started and never confirmed: now the timeout runs, and rolls back.
	out := wait(t, w, conn)
	if out.State != remote.WatchdogRolledBack || out.System != sys["good"] {
		t.Errorf("outcome %+v, want rolled back to good", out)
	}
	for _, want := range []string{"unless confirmed within 2 polls", "no confirmation in time"} {
		if !strings.Contains(out.Output, want) {
			t.Errorf("log does not contain %q:\n%s", want, out.Output)
		}
	}
	if strings.Contains(out.Output, "the activation did not finish in time") {
		t.Errorf("the start timeout fired:\n%s", out.Output)
	}

	// Never started: rolled back after StartTimeout. The rollback (to
	// holding, what the host runs when arming) is held until the activation
	// it undoes returned, since the watchdog may decide before or after the
	// activation ends.
	switchTo(t, conn, sys["holding"])
	release = holdActivations(t, h)
	w, err = remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: time.Hour, StartTimeout: 300 * time.Millisecond, Action: remote.ActionSwitch, System: sys["alt"]})
	if err != nil {
		t.Fatal(err)
	}
	if err := remote.Activate(ctx, conn, sys["alt"], remote.ActionSwitch); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, holding, eventDeadline) // the rollback is under way
	if link, err := os.Readlink(decisionLink(h, w)); err != nil || link != "timeout" {
		t.Errorf("decision link %q (%v), want timeout", link, err)
	}
	release()
	out = wait(t, w, conn)
	if out.State != remote.WatchdogRolledBack || out.System != sys["holding"] || !strings.Contains(out.Output, "the activation did not finish in time") {
		t.Errorf("outcome %+v, want rolled back to holding after the start timeout", out)
	}
	if got := actions(t, h); len(got) < 2 || got[len(got)-2] != "switch alt" || got[len(got)-1] != "switch holding" {
		t.Errorf("actions %q, want the activation of alt, then the rollback to holding", got)
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
	release := holdActivations(t, h)
	if err := old.Trigger(ctx, conn); err != nil {
		t.Fatal(err)
	}
	waitForFile(t, filepath.Join(h.Root, "run", "ferry-test", "holding"), eventDeadline)

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
