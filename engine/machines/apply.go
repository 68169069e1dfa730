package machines

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// ApplyRequest is what the executor lends the machines of one apply.
type ApplyRequest struct {
	Plan *plan.Plan
	// State is the state as apply read it at its start: the records the
	// machines' new ones start from.
	State *state.State
	// Commit records a machine's record (and, before an activation, its
	// unverified status) durably.
	Commit Commit
	// Results resolve the target arguments the plan left unknown.
	Results Results
	Sink    Sink
	Limits  Limits
	// Ctx is the context machine operations run under: the core's
	// operation context (engine.ApplyOptions.OpContext), which a first
	// interrupt does not cancel, so a deploy that started finishes and is
	// recorded.
	Ctx context.Context
	// ConfigDir is the configuration folder, where the plan's GC roots
	// are (gcroots.go).
	ConfigDir string
	// Secrets are the keys to upload (ResolveSecrets).
	Secrets Secrets
	// Transfers are the signing keys of the fleet caches
	// (ResolveTransfers).
	Transfers Transfers
	// RebootTimeout bounds the wait for a rebooted host (0: 5m,
	// remote.RebootOptions); ReachTimeout the wait for a host that
	// appeared in this apply (0: DefaultReachTimeout).
	RebootTimeout, ReachTimeout time.Duration
}

// Limits are the named limits the steps of machine nodes hold
// (engine/limits.go). A machine node holds no slot of the walk's
// --parallelism: it waits only for these, at the step that needs them.
type Limits struct {
	// Copy bounds closure transfers (--max-concurrent-copy); asking a
	// host what it lacks is outside it.
	Copy Slots
	// Activate bounds activations (--max-concurrent-activate), from
	// arming the watchdog to the end of switch-to-configuration.
	Activate Slots
	// BuildJobs is Nix's --max-jobs for the one local build of every
	// system (0: the user's nix.conf).
	BuildJobs int
}

// Run is the machines' part of one apply: the one build of every system
// built locally, started at once in the background, and what the machine
// nodes and rollout gates share. Its methods are safe for concurrent use.
type Run struct {
	pl            *Pipeline
	p             *plan.Plan
	st            *state.State
	commit        Commit
	results       Results
	sink          Sink
	limits        Limits
	ctx           context.Context
	secrets       Secrets
	configDir     string          // ApplyRequest.ConfigDir
	caches        *caches         // transfer.go
	closures      remote.Closures // the local store's answers, asked once per run
	rebootTimeout time.Duration
	reachTimeout  time.Duration
	gates         map[string]int // rollout gate -> the batch it follows

	builds    map[string]nix.BuildResult // by drv
	buildErr  error
	buildDone chan struct{}
	roots     *planRoots // gcroots.go: the plan's derivations and their GC roots

	mu         sync.Mutex
	done       map[string]bool          // machines deployed, for rollout gates
	activating map[string]bool          // machines whose activation started
	rollbacks  map[string]string        // machine -> system it was rolled back to
	fallbacks  map[string]string        // machine -> why its closure was pushed (transfer.go)
	endpoints  map[string]remote.Target // machine -> where reach found it
}

// Start begins the machines' part of an apply: it checks that this
// machine's Nix store has the plan's derivations (a plan refused here
// fails every machine node, and nothing is built), then builds every
// system built locally in one nix-store --realise, in the background,
// while resources proceed.
func (pl *Pipeline) Start(req ApplyRequest) *Run {
	r := &Run{pl: pl, p: req.Plan, st: req.State, commit: req.Commit, results: req.Results, sink: req.Sink,
		limits: req.Limits, ctx: req.Ctx, secrets: req.Secrets, configDir: req.ConfigDir, caches: &caches{keys: req.Transfers}, rebootTimeout: req.RebootTimeout, reachTimeout: req.ReachTimeout,
		gates: gateBatches(req.Plan.Rollout), buildDone: make(chan struct{}), done: map[string]bool{}}
	if r.sink == nil {
		r.sink = nopSink{}
	}
	if r.ctx == nil {
		r.ctx = context.Background()
	}
	r.roots = r.startRoots(req.ConfigDir) // gcroots.go: checks this machine has the plan's derivations
	var drvs []string
	scripts := 0
	for _, m := range r.p.Machines {
		if m.Action == plan.Deploy && m.BuiltLocally() {
			drvs = append(drvs, m.Drv)
		}
		if d := diskoDrv(m); d != "" { // gcroots.go
			drvs = append(drvs, d)
			scripts++
		}
	}
	what := spec.Count(len(drvs)-scripts, "system")
	switch {
	case scripts > 0 && scripts == len(drvs):
		what = spec.Count(scripts, "disko script")
	case scripts > 0:
		what += " and " + spec.Count(scripts, "disko script")
	}
	if len(drvs) == 0 || r.roots.refused() != nil { // gcroots.go: nothing is built for a refused plan
		close(r.buildDone)
		return r
	}
	go func() {
		defer close(r.buildDone)
		r.sink.Progress("", 0, fmt.Sprintf("building %s in one nix-store --realise", what))
		start := time.Now()
		attribution := newBuildAttribution(r.p) // nixlog.go
		r.builds, r.buildErr = r.pl.Nix.Build(r.ctx, drvs, nix.BuildOptions{Jobs: r.limits.BuildJobs, OnLog: attribution.forward(r.sink)})
		r.roots.built(r.builds) // gcroots.go: release the roots of what built
		built := 0
		for _, b := range r.builds {
			if b.Err == nil {
				built++
			}
		}
		if scripts > 0 {
			r.sink.Progress("", time.Since(start), fmt.Sprintf("built %d of %d: %s", built, len(drvs), what))
		} else {
			r.sink.Progress("", time.Since(start), fmt.Sprintf("built %d of %s", built, what))
		}
	}()
	return r
}

// Machine runs the node of the machine at addr: deploys it, or uploads
// its keys, or forgets it, and commits its record before returning. The
// core reports the node (engine.EventStart before, EventDone or
// EventFailed after); done is the message of EventDone ("generation 7").
// A failed deploy that changed the host (keys uploaded, a rollback) is
// committed too.
func (r *Run) Machine(addr string) (done string, err error) {
	m := r.p.Machine(addr)
	if m == nil {
		return "", fmt.Errorf("%s: not a machine of the plan", addr)
	}
	rec, err := r.runMachine(m)
	r.mu.Lock()
	_, activated := r.activating[addr]
	_, rolledBack := r.rollbacks[addr]
	r.mu.Unlock()
	switch {
	case rec == nil || !activated:
		// Nothing was activated: the host runs what it ran, whose status
		// the record keeps.
	case err == nil:
		rec.Status, rec.StatusReason, rec.StatusAt = state.StatusVerified, "", time.Now().UTC()
	case rolledBack:
		// Back on the system it ran before, as verified as it was then;
		// the failure is in LastRollback.
	default:
		rec.Status, rec.StatusReason, rec.StatusAt = state.StatusUnverified, "deploy failed: "+firstLine(err.Error()), time.Now().UTC()
	}
	if err == nil || rec != nil {
		// A failed deploy that changed the host (keys, a rollback) is
		// recorded too.
		if cerr := r.commit(state.Change{Addr: addr, Machine: rec}); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return "", err
	}
	r.mu.Lock()
	r.done[addr] = true
	r.mu.Unlock()
	if rec != nil && rec.Generation > 0 {
		return fmt.Sprintf("generation %d", rec.Generation), nil
	}
	return "", nil
}

// RolledBack returns the machines rolled back in this apply, with the
// system each went back to.
func (r *Run) RolledBack() map[string]string {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rollbacks == nil {
		return nil
	}
	out := make(map[string]string, len(r.rollbacks))
	for a, s := range r.rollbacks {
		out[a] = s
	}
	return out
}

// runMachine deploys one machine: wait for its build, connect, check that
// nobody deployed since the plan, copy what the host lacks, upload keys,
// activate (guarded by the watchdog, or through a reboot), confirm over a
// new connection, run the health checks, and return the record to store.
// A non-nil record comes back with an error too when the host changed
// (keys uploaded, a rollback happened): it is recorded either way.
func (r *Run) runMachine(m *plan.Machine) (*state.Machine, error) {
	ctx := r.ctx
	prev := r.st.Machines[m.Addr]
	if err := r.roots.refused(); err != nil { // gcroots.go: the plan's derivations are missing here
		return nil, err
	}
	if m.Action == plan.Forget {
		return nil, nil
	}
	progress := func(format string, args ...any) {
		r.sink.Progress(m.Addr, 0, fmt.Sprintf(format, args...))
	}
	// The target: what the plan left unknown is resolved and checked now,
	// and a host that appeared in this apply is waited for
	// (target.go); m holds the resolved target from here on.
	appeared := !m.Target.Known()
	keyRef, keyFromRef := m.Target.Refs["host_key"]
	m, ep, err := r.reach(m, progress)
	if err != nil {
		return nil, err
	}
	if appeared && prev != nil && prev.Target != m.Target.String() {
		prev = nil // the record describes the host that was there before
	}
	// Connecting and checking the host overlap with the build. The host
	// key is pinned before the first login: a host presenting another
	// key than the configured (or provider-reported) one is refused.
	conn, err := r.pl.SSH.Dial(ctx, ep)
	if err != nil {
		var mismatch *remote.HostKeyMismatchError
		if keyFromRef && errors.As(err, &mismatch) {
			return nil, fmt.Errorf("connect: refused before logging in: the host does not have the key %s reported: %w", spec.Render(keyRef), err)
		}
		return nil, fmt.Errorf("connect: %w", err)
	}
	if m.Install != nil {
		return r.installApply(ctx, conn, m, ep, prev, progress) // install.go
	}
	if m.CurrentRead {
		cur, err := remote.CurrentSystem(ctx, conn)
		if err != nil {
			return nil, fmt.Errorf("read current system: %w", err)
		}
		if cur != m.Current {
			return nil, fmt.Errorf("refused: the host's current system changed since the plan (planned against %s, now %s): someone else deployed; run `ferry plan` again", orNone(m.Current), orNone(cur))
		}
	}
	if m.Action == plan.Deploy && m.BuiltLocally() {
		if err := r.built(m.Drv); err != nil {
			return nil, err
		}
	}
	rec := machineRecord(m, conn.HostKey(), prev)
	secrets := r.secrets.of(m.Addr)
	if m.Action == plan.UploadKeys {
		if err := upload(ctx, conn, m.Addr, secrets, "", rec.Keys, progress); err != nil {
			return rec, fmt.Errorf("keys: %w", err)
		}
		return rec, nil
	}
	switch {
	case m.BuildOnTarget:
		if err := r.buildOnTarget(ctx, conn, m, progress); err != nil {
			return nil, err
		}
	case m.BuildHost != nil: // build.go
		if err := r.buildOnHost(ctx, conn, m, rec, progress); err != nil {
			return nil, err
		}
	case m.SystemGiven != "":
		if err := r.fetchGiven(ctx, conn, m, progress); err != nil {
			return nil, err
		}
	default:
		if err := r.transfer(ctx, conn, m, progress); err != nil { // transfer.go
			return nil, fmt.Errorf("copy closure: %w", err)
		}
	}
	if err := upload(ctx, conn, m.Addr, secrets, keyPreActivation, rec.Keys, progress); err != nil {
		return rec, fmt.Errorf("keys (before activation; the system was not activated): %w", err)
	}
	before := r.systemBefore(ctx, conn, m)
	if m.Reboot != nil && m.Reboot.Will {
		return r.deployWithReboot(ctx, conn, m, rec, before, secrets, progress)
	}

	// The watchdog guards a switch away from a running system; a host
	// that ran none has nothing to go back to. It is armed once the
	// activation may start, and its confirmation timer starts when the
	// activation (and the keys after it) finished.
	release, err := acquire(ctx, r.limits.Activate)
	if err != nil {
		return rec, fmt.Errorf("activate (nothing was activated): %w", err)
	}
	var wd *remote.Watchdog
	if !(m.MagicRollback && before.system != "") {
		if err := r.settlePending(ctx, conn, m, progress); err != nil {
			release()
			return nil, err
		}
	}
	if m.MagicRollback && before.system != "" {
		timeout, _ := time.ParseDuration(m.ConfirmTimeout)
		if wd, err = remote.ArmWatchdog(ctx, conn, remote.WatchdogOptions{Timeout: timeout, Action: m.Activate, System: m.Path}); err != nil {
			release()
			return rec, fmt.Errorf("arm the rollback watchdog (nothing was activated): %w", err)
		}
	}
	if err := r.markActivating(m, rec); err != nil {
		release()
		r.standDown(ctx, conn, m, wd)
		return nil, err
	}
	progress("activating (%s)", m.Activate)
	err = remote.Activate(ctx, conn, m.Path, m.Activate)
	release()
	if err != nil {
		return r.deployFailed(ctx, conn, m, rec, before, wd, false, fmt.Errorf("activate (%s): %w", m.Activate, err))
	}
	if err := upload(ctx, conn, m.Addr, secrets, keyPostActivation, rec.Keys, progress); err != nil {
		return r.deployFailed(ctx, conn, m, rec, before, wd, true, fmt.Errorf("keys (after activation): %w", err))
	}
	if wd != nil {
		if err := wd.Start(ctx, conn); err != nil {
			// The watchdog rolls back after its start timeout unless told
			// otherwise; the confirmation below still decides.
			progress("could not start the confirmation timer: %v", err)
		}
		if err := r.confirm(ctx, conn, m, wd, rec, progress); err != nil {
			return rec, err
		}
	}
	return r.checked(ctx, conn, m, rec, before, "health check", progress)
}

// copyClosure sends the closure of path that the host lacks: what it
// lacks is asked outside the copy limit, which bounds only the transfer.
// what names the closure in progress ("" for the system, "derivation ").
func (r *Run) copyClosure(ctx context.Context, conn *remote.Conn, m *plan.Machine, path, what string, progress func(string, ...any)) error {
	return r.copyClosureTo(ctx, conn, m, path, what, "", progress)
}

// copyClosureTo is copyClosure into the host's store store ("" for its
// own; "local?root=/mnt" for an installer's target file systems).
func (r *Run) copyClosureTo(ctx context.Context, conn *remote.Conn, m *plan.Machine, path, what, store string, progress func(string, ...any)) error {
	start := time.Now()
	prepared, err := r.closures.PrepareCopyToStore(ctx, conn, []string{path}, store)
	if err != nil {
		return err
	}
	return r.stream(ctx, m, prepared, time.Since(start), what, progress)
}

// stream sends what prepared says the host lacks, under the copy limit;
// before is the time spent preparing, counted in the copy's time.
func (r *Run) stream(ctx context.Context, m *plan.Machine, prepared *remote.PreparedCopy, before time.Duration, what string, progress func(string, ...any)) error {
	release, err := acquire(ctx, r.limits.Copy)
	if err != nil {
		return err
	}
	start := time.Now().Add(-before) // the copy's time, without waiting for a slot
	stats, err := prepared.Stream(ctx, func(p remote.CopyProgress) {
		if !p.Done && p.SentBytes == 0 {
			progress("copying %s, %s", spec.Count(p.Paths, what+"path"), mib(p.TotalBytes))
		}
	})
	release()
	if err != nil {
		return err
	}
	r.sink.Progress(m.Addr, time.Since(start), fmt.Sprintf("copied %d of %s, %s", stats.Paths, spec.Count(stats.Closure, what+"path"), mib(stats.Bytes)))
	return nil
}

// checked runs m's health checks and records the new system; a failing
// check goes through deployFailed (what names the step in its error).
func (r *Run) checked(ctx context.Context, conn *remote.Conn, m *plan.Machine, rec *state.Machine, before systemState, what string, progress func(string, ...any)) (*state.Machine, error) {
	if len(m.Checks) > 0 {
		progress("running %s", spec.Count(len(m.Checks), "health check"))
		if err := RunChecks(ctx, conn, m.Checks); err != nil {
			return r.deployFailed(ctx, conn, m, rec, before, nil, true, fmt.Errorf("%s: %w", what, err))
		}
		progress("health checks passed")
	}
	r.deployed(ctx, conn, m, rec)
	return rec, nil
}

// deployed records m's new system in rec.
func (r *Run) deployed(ctx context.Context, conn *remote.Conn, m *plan.Machine, rec *state.Machine) {
	if m.Activate == "dry-activate" {
		return
	}
	rec.Drv, rec.Path, rec.Activation, rec.DeployedAt = m.Drv, m.Path, m.Activate, time.Now().UTC()
	if m.Activate != "test" {
		if gens, err := remote.Generations(ctx, conn); err == nil {
			if g, ok := remote.CurrentGeneration(gens); ok {
				rec.Generation = g.Number
			}
		}
	}
}

// systemState is what a host ran before activation, to roll back to.
type systemState struct {
	system     string // /run/current-system
	generation int    // current system profile generation, 0 if none
	profile    string // the system that generation holds (what the host boots)
}

func (r *Run) systemBefore(ctx context.Context, conn *remote.Conn, m *plan.Machine) systemState {
	var s systemState
	if m.CurrentRead {
		s.system = m.Current
	} else if cur, err := remote.CurrentSystem(ctx, conn); err == nil {
		s.system = cur
	}
	if gens, err := remote.Generations(ctx, conn); err == nil {
		if g, ok := remote.CurrentGeneration(gens); ok {
			s.generation, s.profile = g.Number, g.Path
		}
	}
	return s
}

// confirm proves that new SSH logins still work after the switch by
// confirming the watchdog over a new connection, retried until the
// confirm timeout. Without a confirmation the host rolls itself back;
// ferry waits for that outcome over the connection it still has and
// records it.
func (r *Run) confirm(ctx context.Context, conn *remote.Conn, m *plan.Machine, wd *remote.Watchdog, rec *state.Machine, progress func(string, ...any)) error {
	timeout, _ := time.ParseDuration(m.ConfirmTimeout)
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	deadline := time.Now().Add(timeout)
	var lastErr error
	for time.Now().Before(deadline) {
		dctx, cancel := context.WithDeadline(ctx, deadline)
		fresh, closeFresh, err := r.pl.SSH.DialFresh(dctx, r.endpoint(m))
		if err == nil {
			err = wd.Confirm(dctx, fresh)
			_ = closeFresh()
		}
		cancel()
		if err == nil {
			progress("switch confirmed over a new SSH connection")
			return nil
		}
		lastErr = err
		if errors.Is(err, remote.ErrWatchdogDecided) {
			break
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("confirm the switch: %w", ctx.Err())
		case <-time.After(time.Second):
		}
	}
	progress("no new SSH login within %s: waiting for the host's watchdog to roll back", timeout)
	wctx, cancel := context.WithTimeout(ctx, timeout+30*time.Second)
	defer cancel()
	out, werr := wd.Wait(wctx, conn)
	cause := fmt.Sprintf("switch not confirmed: no new SSH login within confirm_timeout %s (last error: %v)", timeout, lastErr)
	switch {
	case werr != nil:
		return fmt.Errorf("%s; the host's watchdog should have rolled back to %s, but its outcome could not be read: %v; check the host", cause, orNone(wd.Previous), werr)
	case out.State == remote.WatchdogRolledBack:
		rec.LastRollback = &state.Rollback{From: m.Path, To: out.System, Reason: cause, At: time.Now().UTC()}
		r.rolledBack(m.Addr, out.System)
		return fmt.Errorf("%s; the host rolled itself back to %s", cause, orNone(out.System))
	case out.State == remote.WatchdogConfirmed:
		// The confirmation reached the host although ferry saw an error.
		r.deployed(ctx, conn, m, rec)
		return nil
	}
	return fmt.Errorf("%s; the host's watchdog ended %s: %s", cause, out.State, strings.TrimSpace(out.Output))
}

// deployFailed handles a failed activation, key upload or health check:
// with rollback_on_failure the host goes back to the system it ran before
// (through the watchdog while it is armed), otherwise the watchdog is
// disarmed and the host left as it is. activated says that the new system
// was activated (a later step failed): without a rollback, state then
// records it, since the host runs it. Every outcome is recorded.
func (r *Run) deployFailed(ctx context.Context, conn *remote.Conn, m *plan.Machine, rec *state.Machine, before systemState, wd *remote.Watchdog, activated bool, cause error) (*state.Machine, error) {
	if !m.RollbackOnFailure || before.system == "" {
		why := "rollback_on_failure = True switches back automatically, or run `ferry rollback " + m.Name + "`"
		if before.system == "" {
			why = "nothing to roll back to: the host ran no system before"
		}
		if wd != nil {
			// A watchdog that cannot be stopped rolls back (or did).
			switch out, rolled, err := r.settle(ctx, conn, m, wd, false); {
			case rolled:
				rec.LastRollback = &state.Rollback{From: m.Path, To: out.System, Reason: cause.Error(), At: time.Now().UTC()}
				r.rolledBack(m.Addr, out.System)
				return rec, fmt.Errorf("%w; the host's watchdog could not be stopped and rolled back to %s", cause, orNone(out.System))
			case err != nil:
				return rec, fmt.Errorf("%w; the host's watchdog could not be stopped (%v): it rolls back to %s within its timeout", cause, err, orNone(wd.Previous))
			}
		}
		if activated && m.Activate != "dry-activate" {
			r.deployed(ctx, conn, m, rec)
		}
		return rec, fmt.Errorf("%w; the host is left as it is (%s)", cause, why)
	}
	r.sink.Progress(m.Addr, 0, "rolling back to "+before.system)
	var (
		to  string
		err error
	)
	if wd != nil {
		var out remote.WatchdogOutcome
		var rolled bool
		out, rolled, err = r.settle(ctx, conn, m, wd, true)
		switch {
		case errors.Is(err, remote.ErrWatchdogKept):
			to, err = rollBack(ctx, conn, m, before) // it stood down: roll back by hand
		case err == nil && !rolled:
			err = fmt.Errorf("the watchdog ended %s: %s", out.State, strings.TrimSpace(out.Output))
		default:
			to = out.System
		}
	} else {
		to, err = rollBack(ctx, conn, m, before)
	}
	if err != nil {
		return rec, fmt.Errorf("%w; rollback to %s failed too: %v", cause, before.system, err)
	}
	rec.LastRollback = &state.Rollback{From: m.Path, To: to, Reason: cause.Error(), At: time.Now().UTC()}
	r.rolledBack(m.Addr, to)
	return rec, fmt.Errorf("%w; rolled back to %s", cause, to)
}

// settle tells the watchdog to roll back (rollBack) or to stand down, over
// the main connection or, when that fails (the activation may have cut
// it), over a new one, and waits for the outcome when a rollback was
// decided, by ferry or by the watchdog's timeout. rolled reports that the
// host went back to the previous system.
func (r *Run) settle(ctx context.Context, conn *remote.Conn, m *plan.Machine, wd *remote.Watchdog, rollBack bool) (out remote.WatchdogOutcome, rolled bool, err error) {
	decide := func(c *remote.Conn) error {
		if rollBack {
			return wd.Trigger(ctx, c)
		}
		return wd.Disarm(ctx, c)
	}
	decided := func(err error) bool {
		return errors.Is(err, remote.ErrWatchdogDecided) || errors.Is(err, remote.ErrWatchdogKept)
	}
	err = decide(conn)
	if err != nil && !decided(err) {
		if fresh, closeFresh, derr := r.pl.SSH.DialFresh(ctx, r.endpoint(m)); derr == nil {
			defer closeFresh()
			conn = fresh
			err = decide(conn)
		}
	}
	switch {
	case !rollBack && err == nil:
		return out, false, nil // disarmed: the host keeps what it runs
	case !rollBack && errors.Is(err, remote.ErrWatchdogDecided), rollBack && err == nil:
		// A rollback is under way.
	default:
		return out, false, err
	}
	wctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
	defer cancel()
	out, err = wd.Wait(wctx, conn)
	if err != nil {
		return out, false, err
	}
	return out, out.State == remote.WatchdogRolledBack, nil
}

// rollBack switches the host back to before without a watchdog: the
// earlier profile generation with the same action (switch or boot), or the
// earlier system activated again with test.
func rollBack(ctx context.Context, conn *remote.Conn, m *plan.Machine, before systemState) (string, error) {
	switch m.Activate {
	case "switch":
		if before.generation > 0 {
			if err := remote.Rollback(ctx, conn, before.generation); err != nil {
				return "", err
			}
		} else if err := remote.Activate(ctx, conn, before.system, "switch"); err != nil {
			return "", err
		}
	case "boot":
		// The boot default goes back; the running system was not touched.
		target := before.profile
		if target == "" {
			target = before.system
		}
		if err := remote.Activate(ctx, conn, target, "boot"); err != nil {
			return "", err
		}
		return target, nil
	default:
		if err := remote.Activate(ctx, conn, before.system, "test"); err != nil {
			return "", err
		}
	}
	return remote.CurrentSystem(ctx, conn)
}

// deployWithReboot activates with boot, reboots the host, waits for it to
// come back with a new boot ID, checks that it booted the new system,
// uploads the keys that lived in /run again and runs the health checks.
func (r *Run) deployWithReboot(ctx context.Context, conn *remote.Conn, m *plan.Machine, rec *state.Machine, before systemState, secrets []*secret, progress func(string, ...any)) (*state.Machine, error) {
	release, err := acquire(ctx, r.limits.Activate)
	if err != nil {
		return rec, fmt.Errorf("activate (nothing was activated): %w", err)
	}
	if err := r.settlePending(ctx, conn, m, progress); err != nil {
		release()
		return nil, err
	}
	if err := r.markActivating(m, rec); err != nil {
		release()
		return nil, err
	}
	progress("activating (boot), then rebooting: %s", strings.Join(m.Reboot.Reasons, "; "))
	err = remote.Activate(ctx, conn, m.Path, "boot")
	release()
	if err != nil {
		return r.deployFailed(ctx, conn, m, rec, before, nil, false, fmt.Errorf("activate (boot): %w", err))
	}
	r.sink.Progress(m.Addr, 0, "rebooting")
	start := time.Now()
	conn, err = r.reboot(ctx, m)
	if err != nil {
		return rec, fmt.Errorf("reboot: %w; the new system is the boot default", err)
	}
	r.sink.Progress(m.Addr, time.Since(start), "back after reboot")
	if id, err := remote.BootID(ctx, conn); err == nil {
		rec.BootID = id
	}
	cur, err := remote.CurrentSystem(ctx, conn)
	if err != nil {
		return rec, fmt.Errorf("read the current system after reboot: %w", err)
	}
	if cur != m.Path {
		return rec, fmt.Errorf("after the reboot the host runs %s, not the new system %s: did the boot loader pick another entry?", orNone(cur), m.Path)
	}
	var again []*secret
	for _, s := range secrets {
		if s.spec.UploadAt == keyPostActivation || strings.HasPrefix(keyDest(s.spec), "/run/") {
			again = append(again, s)
		}
	}
	if err := upload(ctx, conn, m.Addr, again, "", rec.Keys, progress); err != nil {
		return r.deployFailed(ctx, conn, m, rec, before, nil, true, fmt.Errorf("keys (after reboot): %w", err))
	}
	return r.checked(ctx, conn, m, rec, before, "health check after reboot", progress)
}

// markActivating records, before the activation starts, that m's deploy
// is not verified yet: a run killed from here on leaves a record that
// makes the next plan deploy the machine again instead of calling it
// unchanged (the host may run the new system, unconfirmed).
func (r *Run) markActivating(m *plan.Machine, rec *state.Machine) error {
	if m.Activate == "dry-activate" {
		return nil
	}
	cp := *rec
	cp.Status = state.StatusUnverified
	cp.StatusReason = fmt.Sprintf("activation (%s) of %s started by an apply that did not record its outcome", m.Activate, m.Path)
	cp.StatusAt = time.Now().UTC()
	if err := r.commit(state.Change{Addr: m.Addr, Machine: &cp}); err != nil {
		return fmt.Errorf("record the activation before it starts (nothing was activated): %w", err)
	}
	r.mu.Lock()
	if r.activating == nil {
		r.activating = map[string]bool{}
	}
	r.activating[m.Addr] = true
	r.mu.Unlock()
	return nil
}

// settlePending disarms the watchdogs an interrupted run left pending on
// the host, before an activation that arms none (ArmWatchdog supersedes
// them itself): one would otherwise switch the host back after this
// deploy. Only when the plan saw one, or did not look.
func (r *Run) settlePending(ctx context.Context, conn *remote.Conn, m *plan.Machine, progress func(string, ...any)) error {
	if m.CurrentRead && m.Pending == "" || m.Activate == "dry-activate" {
		return nil
	}
	gone, err := remote.DisarmPending(ctx, conn)
	if err != nil {
		return fmt.Errorf("settle the unconfirmed switch of an interrupted run (nothing was activated): %w", err)
	}
	for _, w := range gone {
		progress("disarmed the watchdog %s of an interrupted run", w.ID)
	}
	return nil
}

// standDown disarms a watchdog armed for an activation that did not start.
func (r *Run) standDown(ctx context.Context, conn *remote.Conn, m *plan.Machine, wd *remote.Watchdog) {
	if wd != nil {
		_, _, _ = r.settle(ctx, conn, m, wd, false)
	}
}

// rolledBack notes a rollback for the summary.
func (r *Run) rolledBack(addr, to string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.rollbacks == nil {
		r.rollbacks = map[string]string{}
	}
	r.rollbacks[addr] = to
}

// buildOnTarget copies the derivation closure (under the copy limit, like
// any closure) and realises it on the host. Builds on targets are not
// bounded from here: each runs on its own host.
func (r *Run) buildOnTarget(ctx context.Context, conn *remote.Conn, m *plan.Machine, progress func(string, ...any)) error {
	if err := r.copyClosure(ctx, conn, m, m.Drv, "derivation ", progress); err != nil {
		return fmt.Errorf("copy derivation to the target: %w", err)
	}
	r.roots.done(m.Drv) // gcroots.go: the target has the derivation now
	progress("building on the target")
	if err := conn.Run(ctx, remote.Command("nix-store", "--realise", m.Drv), remote.RunOptions{}); err != nil {
		return fmt.Errorf("build on the target: %w", err)
	}
	return nil
}

// machineRecord is what apply records after deploying pm.
func machineRecord(pm *plan.Machine, hostKey string, prev *state.Machine) *state.Machine {
	rec := &state.Machine{Target: pm.Target.String(), HostKey: hostKey, DeclaredAt: pm.DeclaredAt,
		Keys: map[string]string{}, Deps: pm.Deps}
	if prev != nil {
		rec.Drv, rec.Path, rec.Activation, rec.Generation, rec.DeployedAt = prev.Drv, prev.Path, prev.Activation, prev.Generation, prev.DeployedAt
		rec.LastRollback, rec.BootID = prev.LastRollback, prev.BootID
		rec.Status, rec.StatusReason, rec.StatusAt = prev.Status, prev.StatusReason, prev.StatusAt
		if pm.BuildHost != nil {
			rec.BuildHost, rec.BuildHostKey = prev.BuildHost, prev.BuildHostKey
		}
		// Keys no longer configured are forgotten (and left on the host,
		// as NixOps does): only configured destinations stay.
		for _, k := range pm.Keys {
			if h, ok := prev.Keys[k.Dest]; ok {
				rec.Keys[k.Dest] = h
			}
		}
	}
	return rec
}
