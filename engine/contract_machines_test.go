package engine_test

import (
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/remote"
)

// probe reads name's host facts the way plan and `ferry check` do.
func (m *machineEnv) probe(name string) remote.HostFacts {
	m.t.Helper()
	var facts remote.HostFacts
	m.withDialer(func() {
		h := m.host(name)
		conn, err := m.eng.SSH.Dial(context.Background(), remote.Target{Host: h.Addr, Port: h.Port, HostKey: h.HostKey})
		if err == nil {
			facts, err = remote.Probe(context.Background(), conn)
		}
		if err != nil {
			m.t.Fatal(err)
		}
	})
	return facts
}

// TestUnverifiedMachineIsDeployedAgain: a health check fails without
// rollback_on_failure, so the host keeps running the new system. State
// records the machine as unverified; the next plan of the same
// configuration deploys it again, saying why, and `ferry check`'s judgement
// (machines.Judge) agrees with the plan. Once a deploy passes its
// checks, both say all is well.
func TestUnverifiedMachineIsDeployedAgain(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2")
	m.applyOK(m.plan(engine.PlanOptions{}))
	if rec := m.state().Machines["machine.h1"]; rec.Status != state.StatusVerified {
		t.Fatalf("after a good deploy h1 is %q, want verified", rec.Status)
	}
	m.vars["h1_extra"] = "{ ferry.test.unhealthy = true; }"
	p := m.plan(engine.PlanOptions{})
	m.applyFailing(p)
	rec := m.state().Machines["machine.h1"]
	if rec.Status != state.StatusUnverified || !strings.Contains(rec.StatusReason, "health check") || rec.Path != plannedMachine(t, p, "h1").Path {
		t.Fatalf("after the failed check h1 is %q (%s) at %s, want unverified at the system it runs", rec.Status, rec.StatusReason, rec.Path)
	}
	st := machines.Judge(rec, m.probe("h1"))
	if st.OK() || st.Unverified == "" {
		t.Errorf("check judges h1 %+v, want unverified", st)
	}

	// Same configuration: before, plan said "unchanged" while check
	// reported a problem, forever.
	p = m.plan(engine.PlanOptions{})
	if d := cmp.Diff(map[string]plan.Action{"h1": plan.Deploy, "h2": plan.Noop}, machineActions(p)); d != "" {
		t.Errorf("plan after the failed check (-want +got):\n%s", d)
	}
	if pm := plannedMachine(t, p, "h1"); !strings.Contains(pm.Reason, "did not finish verified") {
		t.Errorf("h1 planned because %q, want the unverified deploy named", pm.Reason)
	}

	delete(m.vars, "h1_extra")
	m.applyOK(m.plan(engine.PlanOptions{}))
	rec = m.state().Machines["machine.h1"]
	if st := machines.Judge(rec, m.probe("h1")); !st.OK() || rec.Status != state.StatusVerified {
		t.Errorf("after a good deploy h1 is %q and judged %+v, want verified and OK", rec.Status, st)
	}
	if d := cmp.Diff(map[string]plan.Action{"h1": plan.Noop, "h2": plan.Noop}, machineActions(m.plan(engine.PlanOptions{}))); d != "" {
		t.Errorf("final plan (-want +got):\n%s", d)
	}
}

// TestMachineAddressesInPlanOptions: --replace machine.X redeploys an
// up-to-date machine (NixOps --force), --target machine.X plans only that
// machine and what it depends on, --on takes globs and --exclude leaves
// machines out, and --destroy forgets every machine while the hosts keep
// running what they run.
func TestMachineAddressesInPlanOptions(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	m.deployAll()

	p := m.plan(engine.PlanOptions{Replace: []string{"machine.storage"}})
	if d := cmp.Diff(map[string]plan.Action{"gitServer": plan.Noop, "proxy": plan.Noop, "storage": plan.Deploy}, machineActions(p)); d != "" {
		t.Errorf("--replace machine.storage (-want +got):\n%s", d)
	}
	if got := plannedMachine(t, p, "storage").Reason; !strings.Contains(got, "--replace") {
		t.Errorf("storage planned because %q", got)
	}
	before := len(m.activations("storage"))
	m.applyOK(p)
	if n := len(m.activations("storage")); n != before+1 {
		t.Errorf("storage activated %d times by the --replace apply, want once", n-before)
	}

	// Every machine has a new system; a target plans only proxy.
	m.edit("common.nix", addHello)
	p = m.plan(engine.PlanOptions{Targets: []string{"machine.proxy"}})
	if d := cmp.Diff(map[string]plan.Action{"proxy": plan.Deploy}, machineActions(p)); d != "" {
		t.Errorf("--target machine.proxy (-want +got):\n%s", d)
	}
	p = m.plan(engine.PlanOptions{On: []string{"*o*"}, Exclude: []string{"@storage"}})
	if d := cmp.Diff(map[string]plan.Action{"proxy": plan.Deploy}, machineActions(p)); d != "" {
		t.Errorf("--on '*o*' --exclude @storage (-want +got):\n%s", d)
	}
	if p.Options.On[0] != "*o*" || p.Options.Exclude[0] != "@storage" {
		t.Errorf("plan options %+v, want --on and --exclude recorded", p.Options)
	}

	running := map[string]string{}
	for _, name := range threeMachines {
		running[name] = m.current(name)
	}
	p = m.plan(engine.PlanOptions{Destroy: true})
	if d := cmp.Diff(map[string]plan.Action{"gitServer": plan.Forget, "proxy": plan.Forget, "storage": plan.Forget}, machineActions(p)); d != "" {
		t.Errorf("--destroy (-want +got):\n%s", d)
	}
	if !p.HasChanges() || p.Count().Forget != 3 {
		t.Errorf("destroy plan counts %+v, want 3 to forget", p.Count())
	}
	res := m.applyOK(p)
	if res.Forgotten != 3 || len(m.state().Machines) != 0 {
		t.Errorf("destroy forgot %d machines, state keeps %d", res.Forgotten, len(m.state().Machines))
	}
	for _, name := range threeMachines {
		if got := m.current(name); got != running[name] {
			t.Errorf("%s runs %s after destroy, want it left at %s", name, got, running[name])
		}
	}
}

// TestInterruptedRollbackIsRecorded: a health check fails and
// rollback_on_failure switches back, but the user interrupts twice during
// the rollback (the operations' context is cancelled). The machine is
// recorded as unverified, so the next plan deploys it again and says why,
// whatever the host ended up running.
func TestInterruptedRollbackIsRecorded(t *testing.T) {
	m := newSafetyEnv(t, "h1")
	m.applyOK(m.plan(engine.PlanOptions{}))
	m.vars["h1_extra"] = "{ ferry.test.unhealthy = true; }"
	m.vars["h1_rollback"] = "true"
	m.vars["h1_magic"] = "false"
	p := m.plan(engine.PlanOptions{})
	opCtx, abort := context.WithCancel(context.Background())
	defer abort()
	m.applyOpts.OpContext = opCtx
	m.onEvent = func(ev engine.Event) {
		if ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "rolling back to ") {
			abort() // the second Ctrl-C
		}
	}
	res, _ := m.applyFailing(p)
	m.onEvent, m.applyOpts.OpContext = nil, nil
	if err := res.Failed["machine.h1"]; err == nil || !strings.Contains(err.Error(), "rollback to") {
		t.Errorf("h1: %v, want the health check and the failed rollback", err)
	}
	rec := m.state().Machines["machine.h1"]
	if rec.Status != state.StatusUnverified {
		t.Fatalf("after the interrupted rollback h1 is %q, want unverified", rec.Status)
	}
	delete(m.vars, "h1_extra")
	p = m.plan(engine.PlanOptions{})
	pm := plannedMachine(t, p, "h1")
	if pm.Action != plan.Deploy {
		t.Errorf("h1 planned as %s after the interrupted rollback, want deploy", pm.Action)
	}
	if m.current("h1") == pm.Path && !strings.Contains(pm.Reason, "did not finish verified") {
		t.Errorf("h1 runs the planned system and is planned because %q, want the unverified deploy named", pm.Reason)
	}
	m.applyOK(p)
	if rec := m.state().Machines["machine.h1"]; rec.Status != state.StatusVerified {
		t.Errorf("after the next deploy h1 is %q, want verified", rec.Status)
	}
}
