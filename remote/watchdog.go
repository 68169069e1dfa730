package remote

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"
)

// WatchdogDir holds the watchdogs' files on a host. It is under /run, a
// tmpfs on NixOS: a reboot clears it, as it ends every watchdog.
const WatchdogDir = "/run/ferry"

// WatchdogOptions configure ArmWatchdog.
type WatchdogOptions struct {
	// Timeout is how long the watchdog waits for Confirm; 0 means 30s.
	Timeout time.Duration
	// Action is the activation being guarded, ActionSwitch or ActionTest;
	// the rollback re-activates the previous system with the same action,
	// so that a test activation does not touch the boot loader.
	Action string
	// StartTimeout bounds the activation: Timeout counts from Start (the
	// activation finished), and a watchdog that is not started within
	// StartTimeout rolls back as if it had timed out (the activation cut
	// ferry off before it could say it was done). 0 means 10 minutes.
	StartTimeout time.Duration
	// System is the system being activated. It is recorded on the host
	// with the watchdog, so that Probe can tell what an activation left
	// unconfirmed by an interrupted run was to; "" records none.
	System string
}

// Watchdog is a "magic rollback" (as in deploy-rs) armed on one host: a
// process on the host that re-activates the previous system unless the new
// one is confirmed in time, so that an activation which cuts ferry off
// (broken sshd, firewall, network) undoes itself.
type Watchdog struct {
	ID                 string // random, names the files under WatchdogDir
	Previous           string // the system the host ran before (readlink /run/current-system), "" if none
	PreviousGeneration int    // system profile generation before (0 if none)
	// Superseded are the older watchdogs, left pending by interrupted runs,
	// that ArmWatchdog disarmed so that they cannot roll the host back
	// after this deploy.
	Superseded []PendingWatchdog

	host    string
	timeout time.Duration
	action  string
}

// WatchdogState is where a watchdog stands.
type WatchdogState string

const (
	WatchdogPending        WatchdogState = "pending"         // waiting, or rolling back
	WatchdogConfirmed      WatchdogState = "confirmed"       // Confirm won: the new system stays
	WatchdogRolledBack     WatchdogState = "rolled-back"     // the previous system is active again
	WatchdogRollbackFailed WatchdogState = "rollback-failed" // the rollback itself failed: see Output
	WatchdogDisarmed       WatchdogState = "disarmed"        // stopped by Disarm, or superseded by a later watchdog: nothing done
	WatchdogNoPrevious     WatchdogState = "no-previous"     // it would have rolled back, but there was nothing to go back to
)

// WatchdogOutcome is what Wait saw once the watchdog was done.
type WatchdogOutcome struct {
	State  WatchdogState
	System string // what /run/current-system points to afterwards
	Output string // the tail of the watchdog's log
}

// Decisions: the first of Confirm, Disarm, Trigger and the timeout to create
// the decision link wins, because symlink(2) fails when the name exists.
// The link's target is the decision itself, so everyone reads who won.
// A watchdog superseded by a later one (ArmWatchdog, DisarmPending) is
// disarmed, a decision that watchdogs armed by older ferry versions also
// read as "keep the new system", and its log says by whom.
const (
	decideConfirm = "confirmed"
	decideDisarm  = "disarmed"
	decideTrigger = "trigger"
	decideTimeout = "timeout"
)

// watchdogPoll is how often the watchdog on the host looks for a decision.
const watchdogPoll = 100 * time.Millisecond

// watchdogScript runs detached on the host. $1 file prefix, $2 polls of 0.1s
// before the timeout, $3 previous system, $4 previous profile link
// (system-N-link), $5 action, $6 nix-env of the previous system, $7 polls
// to wait for Start. It puts the previous system's tools first on PATH: the
// new system may lack them.
const watchdogScript = `P=$1 ticks=$2 prev=$3 link=$4 action=$5 nixenv=${6:-nix-env} startticks=${7:-6000}
profile=` + SystemProfile + `
if [ -n "$prev" ] && [ -d "$prev/sw/bin" ]; then PATH=$prev/sw/bin:$PATH; export PATH; fi
echo $$ > "$P.pid.tmp" && mv -f "$P.pid.tmp" "$P.pid"
state() { echo "$1" > "$P.state.tmp" && mv -f "$P.state.tmp" "$P.state"; }
log() { echo "$(date '+%Y-%m-%d %H:%M:%S') $*"; }
log "armed: waiting for the activation to finish (at most $startticks polls)"
i=0
while [ ! -e "$P.started" ] && [ ! -L "$P.decision" ]; do
  if [ "$i" -ge "$startticks" ]; then
    log "the activation did not finish in time"
    ln -sn ` + decideTimeout + ` "$P.decision" 2>/dev/null
    break
  fi
  sleep 0.1
  i=$((i+1))
done
log "rolling back to ${prev:-(none)} unless confirmed within $ticks polls"
i=0
while [ ! -L "$P.decision" ]; do
  if [ "$i" -ge "$ticks" ]; then
    ln -sn ` + decideTimeout + ` "$P.decision" 2>/dev/null
    break
  fi
  sleep 0.1
  i=$((i+1))
done
decision=$(readlink "$P.decision")
case $decision in
` + decideConfirm + `) log "confirmed: keeping the new system"; state confirmed; exit 0 ;;
` + decideDisarm + `) log "disarmed: keeping the new system"; state disarmed; exit 0 ;;
` + decideTimeout + `) log "no confirmation in time: rolling back" ;;
*) log "rollback requested" ;;
esac
if [ -z "$prev" ]; then log "no previous system to roll back to"; state no-previous; exit 0; fi
if [ -n "$link" ] && [ "$(readlink "$profile")" != "$link" ]; then
  gen=${link#system-}; gen=${gen%-link}
  log "pointing $profile back to generation $gen"
  "$nixenv" -p "$profile" --switch-generation "$gen" 2>&1
  rc=$?
  if [ $rc -ne 0 ]; then log "nix-env failed with status $rc"; state rollback-failed; exit 1; fi
fi
log "running $prev/bin/switch-to-configuration $action"
"$prev/bin/switch-to-configuration" "$action" 2>&1
rc=$?
if [ $rc -ne 0 ]; then log "switch-to-configuration failed with status $rc"; state rollback-failed; exit 1; fi
log "rolled back to $prev"
state rolled-back`

// supersedeFunc defines supersede, which disarms every pending watchdog
// but the one with prefix $2 through its decision link, as Disarm does,
// appending $1 to its log, and describes each it disarmed. A watchdog
// whose process died is marked disarmed too, since no one else will. It
// returns rollingBackStatus, after describing it, at a watchdog that
// decided to roll back and is still running: an activation now would race
// with its rollback.
const supersedeFunc = `supersede() {
  for s in ` + WatchdogDir + `/watchdog-*.state; do
    [ -f "$s" ] || continue
    o=${s%.state}
    [ "$o" != "$2" ] || continue
    st=
    read -r st 2>/dev/null < "$s" || :
    [ "$st" = pending ] || continue
    if ln -sn ` + decideDisarm + ` "$o.decision" 2>/dev/null; then
      echo "$(date '+%Y-%m-%d %H:%M:%S') $1" >> "$o.log"
      describe ` + recSuperseded + ` "$o"
      if ! alive "$o"; then echo ` + decideDisarm + ` > "$o.state.tmp" && mv -f "$o.state.tmp" "$o.state"; fi
      continue
    fi
    case $(readlink "$o.decision") in
    ` + decideConfirm + `|` + decideDisarm + `) ;;
    *) if alive "$o"; then describe ` + recRollingBack + ` "$o"; return ` + rollingBackStatusText + `; fi ;;
    esac
  done
}
`

// rollingBackStatus is the exit status of the watchdog scripts when an
// older watchdog is rolling the host back.
const (
	rollingBackStatus     = 4
	rollingBackStatusText = "4"
)

// armScript supersedes older pending watchdogs, records the previous
// system, writes the watchdog's .info (the watchdog.* records Probe
// reports) and starts the watchdog detached: its own session (setsid),
// deaf to SIGHUP (nohup), stdin from /dev/null and output to its log, so
// that the SSH session can end without taking it along. It returns once
// the watchdog wrote its pid, then prints the records of the watchdog it
// armed. $1 file prefix, $2 watchdog script, $3 polls, $4 action, $5 polls
// to wait for Start, $6 system being activated, $7 timeout and $8 start
// timeout in milliseconds.
const armScript = watchdogShellFuncs + supersedeFunc + `set -e
umask 077
mkdir -p ` + WatchdogDir + `
P=$1
` + printProbeMarker + `if [ -e "$P.state" ]; then echo "watchdog $P exists" >&2; exit 1; fi
supersede "superseded by watchdog ${P##*/watchdog-} of a later ferry run: it decides from now on" "$P" || exit $?
prev=; if [ -L /run/current-system ]; then prev=$(readlink /run/current-system); fi
link=; if [ -L ` + SystemProfile + ` ]; then link=$(readlink ` + SystemProfile + `); fi
nixenv=$(command -v nix-env 2>/dev/null || true)
# Resolve the folder, not the file: nix-env is a link to nix, which acts by
# the name it was called with; the store folder outlives the next switch.
if [ -n "$nixenv" ]; then nixenv=$(readlink -f "${nixenv%/*}")/nix-env; fi
{
  rec watchdog.previous "$prev"
  rec watchdog.profile "$link"
  rec watchdog.action "$4"
  rec watchdog.system "$6"
  rec watchdog.armed "$(date +%s)"
  rec watchdog.timeout "$7"
  rec watchdog.start-timeout "$8"
} > "$P.info.tmp"
mv -f "$P.info.tmp" "$P.info"
echo pending > "$P.state"
: > "$P.log"
setsid nohup sh -c "$2" ferry-watchdog "$P" "$3" "$prev" "$link" "$4" "$nixenv" "$5" </dev/null >>"$P.log" 2>&1 &
i=0
while [ ! -s "$P.pid" ]; do
  i=$((i+1))
  if [ "$i" -gt 2000 ]; then echo "the watchdog did not start; see $P.log" >&2; exit 1; fi
  sleep 0.01
done
rec ` + recArmedWatchdog + ` "${P##*/watchdog-}"
cat "$P.info"`

// disarmPendingScript supersedes every pending watchdog.
const disarmPendingScript = watchdogShellFuncs + supersedeFunc + printProbeMarker + `supersede "disarmed by a later ferry run" "" || exit $?
exit 0`

// ErrWatchdogRollingBack is wrapped by the errors of ArmWatchdog and
// DisarmPending when an older watchdog is rolling the host back right now:
// an activation would race with it. Wait until its log says it finished,
// then read the host again.
var ErrWatchdogRollingBack = errors.New("an earlier watchdog is rolling the host back right now")

// supersedeOutcome reads the output of armScript or disarmPendingScript.
func supersedeOutcome(host, out string, runErr error) (probeOutput, error) {
	r, perr := parseProbe(out)
	var exit *ExitError
	if errors.As(runErr, &exit) && exit.Code == rollingBackStatus && perr == nil && len(r.rollingBack) > 0 {
		w := r.rollingBack[0]
		prev := w.Previous
		if prev == "" {
			prev = "its previous system"
		}
		return r, fmt.Errorf("watchdog %s of an interrupted ferry run decided to roll %s back and is switching it to %s now; "+
			"wait until it finished (see %s/watchdog-%s.log on the host), then plan again: %w",
			w.ID, host, prev, WatchdogDir, w.ID, ErrWatchdogRollingBack)
	}
	if runErr != nil {
		return r, runErr
	}
	return r, perr
}

// DisarmPending disarms every pending watchdog on the host (those Probe
// lists as PendingWatchdogs, left by interrupted runs) through the same
// decision link as Disarm, so that none of them can roll the host back any
// more, and returns those it disarmed. ArmWatchdog does the same before
// arming; call DisarmPending before an activation that arms no watchdog
// (boot, or no watchdog wanted), which a pending watchdog would otherwise
// undo. Over a working connection, the system the host runs evidently
// accepts logins, which is what those watchdogs waited to hear. It fails
// with ErrWatchdogRollingBack when an older watchdog is rolling back right
// now. Runs on one host must not overlap (the state lock sees to that): a
// watchdog another run armed a moment ago is pending too.
func DisarmPending(ctx context.Context, conn *Conn) ([]PendingWatchdog, error) {
	host := conn.target.Name()
	out, err := conn.Output(ctx, Command("sh", "-c", disarmPendingScript, "ferry-disarm-pending"))
	r, err := supersedeOutcome(host, out, err)
	if err != nil {
		return r.superseded, fmt.Errorf("disarm pending watchdogs on %s: %w", host, err)
	}
	return r.superseded, nil
}

// ArmWatchdog starts a watchdog on the host, before activation, over the
// main connection. It first disarms the older watchdogs still pending on the
// host (as DisarmPending does; Superseded lists them), so that none rolls
// the host back after this deploy, and fails with ErrWatchdogRollingBack
// when one is rolling back right now. It records the system the host runs
// now (Previous) and its system profile generation, then starts a detached
// process that, unless Confirm or Disarm comes first, within Timeout or as
// soon as Trigger is called: points the system profile back to
// PreviousGeneration when the profile changed since arming (after a
// switch), and runs Previous/bin/switch-to-configuration Action. Without a
// previous system it ends in WatchdogNoPrevious instead. The watchdog's
// files are WatchdogDir/watchdog-ID.{info,state,log,decision,pid,started};
// it returns once the watchdog process runs.
func ArmWatchdog(ctx context.Context, conn *Conn, opts WatchdogOptions) (*Watchdog, error) {
	host := conn.target.Name()
	switch opts.Action {
	case ActionSwitch, ActionTest:
	default:
		return nil, fmt.Errorf("arm rollback watchdog on %s: action %q cannot be guarded (want switch or test)", host, opts.Action)
	}
	if opts.Timeout <= 0 {
		opts.Timeout = 30 * time.Second
	}
	if opts.StartTimeout <= 0 {
		opts.StartTimeout = 10 * time.Minute
	}
	var id [8]byte
	if _, err := rand.Read(id[:]); err != nil {
		return nil, fmt.Errorf("arm rollback watchdog on %s: %w", host, err)
	}
	w := &Watchdog{ID: hex.EncodeToString(id[:]), host: host, timeout: opts.Timeout, action: opts.Action}
	polls := int((opts.Timeout + watchdogPoll - 1) / watchdogPoll)
	startPolls := int((opts.StartTimeout + watchdogPoll - 1) / watchdogPoll)
	cmd := systemPath + Command("sh", "-c", armScript, "ferry-arm-watchdog",
		w.prefix(), watchdogScript, strconv.Itoa(polls), opts.Action, strconv.Itoa(startPolls), opts.System,
		strconv.FormatInt(opts.Timeout.Milliseconds(), 10), strconv.FormatInt(opts.StartTimeout.Milliseconds(), 10))
	out, err := conn.Output(ctx, cmd)
	r, err := supersedeOutcome(host, out, err)
	w.Superseded = r.superseded
	if err != nil {
		return nil, fmt.Errorf("arm rollback watchdog on %s: %w", host, err)
	}
	if len(r.armed) != 1 || r.armed[0].ID != w.ID {
		return nil, fmt.Errorf("arm rollback watchdog on %s: unexpected output %s", host, shorten(out))
	}
	w.Previous, w.PreviousGeneration = r.armed[0].Previous, r.armed[0].PreviousGeneration
	return w, nil
}

func (w *Watchdog) prefix() string { return WatchdogDir + "/watchdog-" + w.ID }

// decideScript creates the decision link unless one exists and prints the
// winner. $1 file prefix, $2 decision.
const decideScript = `P=$1
if [ ! -e "$P.state" ]; then echo "no watchdog $P" >&2; exit 3; fi
ln -sn "$2" "$P.decision" 2>/dev/null
readlink "$P.decision"`

// decide tries to make want the decision and returns the one that won.
func (w *Watchdog) decide(ctx context.Context, conn *Conn, want string) (string, error) {
	out, err := conn.Output(ctx, Command("sh", "-c", decideScript, "ferry-watchdog-decide", w.prefix(), want))
	if err != nil {
		var exit *ExitError
		if errors.As(err, &exit) && exit.Code == 3 {
			return "", fmt.Errorf("watchdog %s is not on %s: the host rebooted (which ends watchdogs) or it was never armed there", w.ID, conn.target.Name())
		}
		return "", err
	}
	return strings.TrimSpace(out), nil
}

// tooLate explains a rollback decision that beat the caller's.
func (w *Watchdog) tooLate(decision string) string {
	prev := w.Previous
	if prev == "" {
		prev = "the previous system (there is none)"
	}
	if decision == decideTimeout {
		return fmt.Sprintf("the watchdog already timed out after %v and rolls %s back to %s", w.timeout, w.host, prev)
	}
	return fmt.Sprintf("a rollback of %s to %s was already requested", w.host, prev)
}

// Start tells the watchdog that the activation finished: the confirmation
// must now come within Timeout. Call it over the main connection right
// after the activation (and the keys that follow it).
func (w *Watchdog) Start(ctx context.Context, conn *Conn) error {
	script := `P=$1; if [ ! -e "$P.state" ]; then echo "no watchdog $P" >&2; exit 3; fi; : > "$P.started"`
	if err := conn.Run(ctx, Command("sh", "-c", script, "ferry-watchdog-start", w.prefix()), RunOptions{}); err != nil {
		return fmt.Errorf("start the confirmation timer of the watchdog on %s: %w", conn.target.Name(), err)
	}
	return nil
}

// ErrWatchdogDecided is wrapped by the errors of Confirm and Disarm when the
// watchdog has already decided to roll back: retrying cannot help; Wait
// tells how the rollback went.
var ErrWatchdogDecided = errors.New("the watchdog already decided to roll back")

// ErrWatchdogKept is wrapped by Trigger's error when the watchdog was
// already confirmed or disarmed: it keeps the new system.
var ErrWatchdogKept = errors.New("the watchdog already keeps the new system")

// Confirm tells the watchdog the new system works, so that it keeps it.
// conn is normally a DialFresh connection: being able to log in anew is what
// it proves. It fails when the watchdog already decided to roll back.
func (w *Watchdog) Confirm(ctx context.Context, conn *Conn) error {
	got, err := w.decide(ctx, conn, decideConfirm)
	if err != nil {
		return fmt.Errorf("confirm new system on %s: %w", conn.target.Name(), err)
	}
	switch got {
	case decideConfirm, decideDisarm:
		return nil
	default:
		return fmt.Errorf("confirm new system on %s: too late: %s; raise the watchdog timeout if new logins take longer: %w",
			conn.target.Name(), w.tooLate(got), ErrWatchdogDecided)
	}
}

// Trigger makes the watchdog roll back now (the activation or a health check
// failed). It returns once the watchdog has been told; Wait says how the
// rollback went.
func (w *Watchdog) Trigger(ctx context.Context, conn *Conn) error {
	got, err := w.decide(ctx, conn, decideTrigger)
	if err != nil {
		return fmt.Errorf("roll back %s: %w", conn.target.Name(), err)
	}
	switch got {
	case decideTrigger, decideTimeout:
		return nil
	default:
		return fmt.Errorf("roll back %s through the watchdog: it was already %s, so it keeps the new system; roll back to generation %d instead: %w",
			conn.target.Name(), got, w.PreviousGeneration, ErrWatchdogKept)
	}
}

// Disarm stops the watchdog without rolling back (the activation was not
// wanted after all, or ferry confirms by other means).
func (w *Watchdog) Disarm(ctx context.Context, conn *Conn) error {
	got, err := w.decide(ctx, conn, decideDisarm)
	if err != nil {
		return fmt.Errorf("disarm watchdog on %s: %w", conn.target.Name(), err)
	}
	switch got {
	case decideConfirm, decideDisarm:
		return nil
	default:
		return fmt.Errorf("disarm watchdog on %s: %s: %w", conn.target.Name(), w.tooLate(got), ErrWatchdogDecided)
	}
}

// waitScript prints the state (or "missing", or "dead" when the watchdog
// process is gone without a final state), the current system and the log's
// tail. $1 file prefix.
const waitScript = watchdogShellFuncs + `P=$1
if [ ! -e "$P.state" ]; then echo missing; exit 0; fi
s=$(cat "$P.state")
if [ "$s" = pending ] && [ -s "$P.pid" ] && ! alive "$P"; then
  s=$(cat "$P.state")
  if [ "$s" = pending ]; then s=dead; fi
fi
echo "$s"
readlink /run/current-system 2>/dev/null || echo
tail -n 20 "$P.log" 2>/dev/null`

// watchdogWaitPoll is how often Wait asks the host.
const watchdogWaitPoll = 200 * time.Millisecond

// Wait polls the host until the watchdog is no longer pending or ctx ends;
// on ctx's end it returns the last outcome seen with the error.
func (w *Watchdog) Wait(ctx context.Context, conn *Conn) (WatchdogOutcome, error) {
	host := conn.target.Name()
	cmd := Command("sh", "-c", waitScript, "ferry-watchdog-wait", w.prefix())
	var last WatchdogOutcome
	for {
		out, err := conn.Output(ctx, cmd)
		if err != nil {
			return last, fmt.Errorf("wait for watchdog %s on %s: %w", w.ID, host, err)
		}
		lines := strings.SplitN(out, "\n", 3)
		for len(lines) < 3 {
			lines = append(lines, "")
		}
		last = WatchdogOutcome{State: WatchdogState(lines[0]), System: lines[1], Output: lines[2]}
		switch last.State {
		case "missing":
			return WatchdogOutcome{}, fmt.Errorf("wait for watchdog %s on %s: it is not there: the host rebooted (which ends watchdogs) or it was never armed there", w.ID, host)
		case "dead":
			last.State = WatchdogPending
			return last, fmt.Errorf("wait for watchdog %s on %s: its process ended without a result (killed?); check the host's current system (%s) and the log %s.log",
				w.ID, host, last.System, w.prefix())
		case WatchdogPending:
		default:
			return last, nil
		}
		select {
		case <-ctx.Done():
			return last, fmt.Errorf("wait for watchdog %s on %s: %w", w.ID, host, ctx.Err())
		case <-time.After(watchdogWaitPoll):
		}
	}
}
