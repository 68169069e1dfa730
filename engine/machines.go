package engine

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/remote"
)

// The core's side of the machine pipeline (engine/machines): what it lends
// the pipeline (events, the values planned so far, durable commits, this
// apply's results, the named limits) and the engine methods of the day-2
// commands that need the state store or its lock. Everything else about
// machines is the pipeline's.

// pipeline is the machine pipeline wired with the engine's Nix, SSH and
// target drivers as they are now (tests swap the Dialer between runs).
func (e *Engine) pipeline() *machines.Pipeline {
	return &machines.Pipeline{Nix: e.Nix, SSH: e.SSH, Targets: e.Targets, SSHConfig: e.SSHConfig}
}

// sink forwards the pipeline's progress as the engine's events.
type sink struct{ e *Engine }

func (s sink) Progress(addr string, took time.Duration, msg string) {
	s.e.emit(Event{Kind: EventProgress, Addr: addr, Duration: took, Message: msg})
}

func (s sink) Warning(addr, msg string) {
	s.e.emit(Event{Kind: EventWarning, Addr: addr, Message: msg})
}

func (s sink) Nix(addr string, ev nix.LogEvent) {
	s.e.emit(Event{Kind: EventNix, Addr: addr, Nix: &ev})
}

// planMachines asks the pipeline to plan the machines, after the
// resources, against the values planned for them.
func (b *planBuilder) planMachines(ctx context.Context, p *plan.Plan) error {
	return b.e.pipeline().Plan(ctx, p, machines.PlanRequest{
		Config:  b.cfg,
		State:   b.st,
		Values:  plannedValues{b},
		Deps:    b.deps,
		InScope: b.inScope,
		Options: machines.PlanOptions{
			Destroy: b.opts.Destroy, On: b.opts.On, Exclude: b.opts.Exclude, Replace: b.opts.Replace,
			Activate: b.po.Activate, Reboot: b.po.Reboot, Refresh: !b.opts.NoRefresh,
			EvalMemory: b.opts.EvalMemory, ShowTrace: b.opts.ShowTrace,
		},
		PlanKey:   b.planKey,
		Sink:      sink{b.e},
		HostReads: newSlots(LimitHostReads, b.opts.MaxConcurrentHostReads),
		Diffs:     newSlots(LimitPackageDiffs, 0),
	})
}

// plannedValues are the plan builder's resource values, for the pipeline.
type plannedValues struct{ b *planBuilder }

func (v plannedValues) Lookup(ref spec.Ref) (any, bool, error) { return v.b.lookup(ref) }

// Attrs is every resource's attributes by address: as planned, else as
// state records them.
func (v plannedValues) Attrs() map[string]any {
	out := map[string]any{}
	for addr, attrs := range v.b.planned {
		out[addr] = attrs
	}
	for addr, rec := range v.b.st.Resources {
		if _, ok := out[addr]; !ok {
			out[addr] = rec.Attrs
		}
	}
	return out
}

// startMachines starts the machines' part of the apply (the one build of
// every system, in the background) with what the executor lends it.
func (x *executor) startMachines(opts ApplyOptions) {
	x.ms = x.e.pipeline().Start(machines.ApplyRequest{
		Plan:    x.p,
		State:   x.st,
		Commit:  func(ch state.Change) error { return x.com.commit(ch) },
		Results: applyResults{x},
		Sink:    sink{x.e},
		Limits: machines.Limits{
			Copy:      newSlots(LimitCopy, opts.MaxConcurrentCopy),
			Activate:  newSlots(LimitActivate, opts.MaxConcurrentActivate),
			BuildJobs: LimitBuildJobs.Or(opts.BuildJobs),
		},
		Ctx:           x.opCtx,
		ConfigDir:     opts.Dir,
		Secrets:       x.secrets,
		Transfers:     x.transfers,
		RebootTimeout: opts.RebootTimeout,
		ReachTimeout:  opts.ReachTimeout,
	})
}

// applyResults are this apply's results, for the pipeline.
type applyResults struct{ x *executor }

func (r applyResults) Lookup(ref spec.Ref) (any, bool) { return r.x.lookup(ref) }

// runMachineNode runs a machine node: it gives its walk slot back at once
// (a machine waits for the named limits of its steps, not for
// --parallelism), and reports the node as resources are reported; the
// pipeline records it before it returns.
func (x *executor) runMachineNode(addr string, release func()) error {
	release()
	m := x.p.Machine(addr)
	start := time.Now()
	x.e.emit(Event{Kind: EventStart, Addr: addr, Action: m.Action})
	msg, err := x.ms.Machine(addr)
	if err != nil {
		x.e.emit(Event{Kind: EventFailed, Addr: addr, Action: m.Action, Duration: time.Since(start), Message: err.Error()})
		return err
	}
	x.e.emit(Event{Kind: EventDone, Addr: addr, Action: m.Action, Duration: time.Since(start), Message: msg})
	return nil
}

// runGate runs a rollout gate; a gate that stops the rollout is reported
// as failed (the walk then skips the later batches).
func (x *executor) runGate(ctx context.Context, gate string) error {
	if err := x.ms.Gate(ctx, gate); err != nil {
		x.e.emit(Event{Kind: EventFailed, Addr: gate, Message: err.Error()})
		return err
	}
	return nil
}

// PinHostKey records key (authorized_keys form) as the host key of the
// machine m in the deployment's state, for its target as configured now:
// `ferry host-key pin` after a host was reinstalled. A machine whose
// configuration sets host_key is refused: the configuration wins over
// state, so the key must change there. It returns the record written and
// the key pinned before ("" when none).
func (e *Engine) PinHostKey(ctx context.Context, deployment string, m *spec.Machine, key string, lockTimeout time.Duration) (rec *state.Machine, before string, err error) {
	if err := machines.HostKeyPinnable(m); err != nil {
		return nil, "", err
	}
	key, err = remote.ParseHostKey(key)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", m.Addr, err)
	}
	_, err = e.ModifyState(ctx, deployment, "host-key pin", lockTimeout, func(st *state.State) (*state.State, error) {
		before = machines.PinnedHostKey(m.Target, st.Machines[m.Addr])
		next := machines.RecordFor(st, m)
		next.HostKey = key
		out := st.Clone()
		if out.Machines == nil {
			out.Machines = map[string]*state.Machine{}
		}
		out.Machines[m.Addr] = next
		rec = next
		return out, nil
	})
	return rec, before, err
}

// PlanKey returns the deployment's plan key, which keys the hashes of
// uploaded keys: for `ferry keys upload`, which records them outside a
// plan (machines.UploadKeys). A deployment that has none yet gets one,
// under its lock (waiting up to lockTimeout for it).
func (e *Engine) PlanKey(ctx context.Context, deployment string, lockTimeout time.Duration) ([]byte, error) {
	key, ok, err := e.Store.ReadPlanKey(ctx, deployment)
	if err != nil || ok {
		return key, err
	}
	l, err := e.lock(ctx, deployment, "plan key", lockTimeout)
	if err != nil {
		return nil, err
	}
	defer l.Release(context.WithoutCancel(ctx))
	return e.Store.PlanKey(context.WithoutCancel(ctx), l, deployment)
}

// ReleasePlanRoots releases the Nix GC roots p holds in configDir, for a
// plan that will never be applied (machines.ReleasePlanRoots).
func (e *Engine) ReleasePlanRoots(configDir string, p *plan.Plan) (int, error) {
	return machines.ReleasePlanRoots(configDir, p)
}

// CleanPlanRoots releases every Nix GC root that plans of deployment hold
// in configDir (`ferry plan --clean`, machines.CleanPlanRoots), under the
// deployment's lock, so that no plan or apply of it runs meanwhile.
func (e *Engine) CleanPlanRoots(ctx context.Context, configDir, deployment string, lockTimeout time.Duration) (machines.ReleasedRoots, error) {
	if err := machines.CheckRootsDir(configDir); err != nil {
		return machines.ReleasedRoots{Deployment: deployment}, err
	}
	s, err := e.Begin(ctx, deployment, "plan --clean", lockTimeout)
	if err != nil {
		return machines.ReleasedRoots{Deployment: deployment}, err
	}
	defer s.Close()
	return machines.CleanPlanRoots(configDir, deployment)
}
