package engine_test

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// Hosts that break under ferry, through plan and apply on real test hosts:
// a host that stops accepting ferry's key, a host whose key changed after
// it was pinned on first use, a host without nix-store, and a host whose
// store is full. Each time only that machine fails, with an error that
// names the host and the cause, its state record is left as it was, and
// the other machines deploy.

// addHello gives every machine a new system (common.nix is in defaults).
func addHello(s string) string { return strings.Replace(s, "pkgs.htop", "pkgs.htop pkgs.hello", 1) }

// setAuthorizedKeys replaces the root's authorized_keys of the host.
func (m *machineEnv) setAuthorizedKeys(name, content string) {
	m.t.Helper()
	if err := os.WriteFile(m.host(name).AuthorizedKeysFile(), []byte(content), 0o600); err != nil {
		m.t.Fatal(err)
	}
}

// wantOthersRun checks that each named machine runs, and state records,
// the system p planned for it.
func (m *machineEnv) wantOthersRun(t *testing.T, p *plan.Plan, names ...string) {
	t.Helper()
	st := m.state()
	for _, name := range names {
		pm := plannedMachine(t, p, name)
		if got := m.current(name); got != pm.Path {
			t.Errorf("%s runs %q, want %s", name, got, pm.Path)
		}
		if rec := st.Machines[pm.Addr]; rec == nil || rec.Path != pm.Path {
			t.Errorf("state record of %s: %+v, want path %s", name, rec, pm.Path)
		}
	}
}

// TestMachinesAuthRefused: a host that no longer accepts ferry's key,
// whether it stops after the plan or already at plan time, fails alone
// with the connect error naming the host; once the key is accepted again
// the machine deploys.
func TestMachinesAuthRefused(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	first := m.deployAll()
	h := m.host("storage")
	old := plannedMachine(t, first, "storage").Path
	before := m.state()
	activations := len(m.activations("storage"))
	connectErr := fmt.Sprintf("connect: connect to root@%s:%d (keys tried: 1 given key)", h.Addr, h.Port)

	m.edit("common.nix", addHello)
	p := m.plan(engine.PlanOptions{})
	if c := p.Count(); c.Deploy != 3 {
		t.Fatalf("plan deploys %d machines, want 3", c.Deploy)
	}
	// The host stops accepting the key between plan and apply.
	m.setAuthorizedKeys("storage", "")
	logins := m.logins()
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, "machine.storage", 2, connectErr, "unable to authenticate")
	if n := loginDelta(logins, m.logins())["storage"]; n != 0 {
		t.Errorf("storage accepted %d logins with an empty authorized_keys", n)
	}
	if got := m.current("storage"); got != old {
		t.Errorf("storage runs %s, want it left at %s", got, old)
	}
	if n := len(m.activations("storage")); n != activations {
		t.Errorf("storage was activated (%d activations, was %d)", n, activations)
	}
	if d := cmp.Diff(before.Machines["machine.storage"], m.state().Machines["machine.storage"]); d != "" {
		t.Errorf("state record of storage changed (-before +after):\n%s", d)
	}
	m.wantOthersRun(t, p, "gitServer", "proxy")

	t.Run("refused at plan time", func(t *testing.T) {
		p := m.plan(engine.PlanOptions{})
		want := map[string]plan.Action{"gitServer": plan.Noop, "proxy": plan.Noop, "storage": plan.Deploy}
		if d := cmp.Diff(want, machineActions(p)); d != "" {
			t.Errorf("planned actions (-want +got):\n%s", d)
		}
		pm := plannedMachine(t, p, "storage")
		if pm.CurrentRead || !strings.Contains(pm.Reason, "host not reachable at plan time") || !strings.Contains(pm.Reason, "unable to authenticate") {
			t.Errorf("storage planned with current read %v, reason %q; want unread, authentication refused", pm.CurrentRead, pm.Reason)
		}
		if w := warningsByAddr(m.takeEvents()); len(w) != 1 || len(w[pm.Addr]) != 1 || !strings.Contains(w[pm.Addr][0], "unable to authenticate") {
			t.Errorf("plan warnings %q, want one for storage saying it could not authenticate", w)
		}
		res, ae := m.applyFailing(p)
		wantOnlyFailed(t, res, ae, pm.Addr, 0, connectErr, "unable to authenticate")
		if d := cmp.Diff(before.Machines[pm.Addr], m.state().Machines[pm.Addr]); d != "" {
			t.Errorf("state record of storage changed (-before +after):\n%s", d)
		}
	})

	t.Run("accepted again", func(t *testing.T) {
		m.setAuthorizedKeys("storage", m.fleet.ClientPublicKey+"\n")
		p := m.plan(engine.PlanOptions{})
		pm := plannedMachine(t, p, "storage")
		if pm.Action != plan.Deploy || !pm.CurrentRead || pm.Current != old {
			t.Fatalf("storage planned as %s (read %v, current %q), want a deploy from %s", pm.Action, pm.CurrentRead, pm.Current, old)
		}
		m.applyOK(p)
		m.wantOthersRun(t, p, "storage")
	})
}

// TestMachinesHostKeyChangedAfterFirstUse: with no host_key configured the
// key a host presents first is pinned in state. When the host later
// presents another key (reinstalled, or someone in between), the plan
// fails for it, naming both fingerprints and the command that re-pins,
// and nothing is written. A key that changes between plan and apply is
// refused by apply before logging in; the others deploy.
func TestMachinesHostKeyChangedAfterFirstUse(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	first := m.deployAll()
	old := m.host("storage").HostKey
	if got := m.state().Machines["machine.storage"].HostKey; got != old {
		t.Fatalf("state pins %q for storage, want the key it presented first, %q", got, old)
	}
	if got := plannedMachine(t, first, "storage").Target.HostKey; got != old {
		t.Fatalf("first plan pins %q for storage, want %q", got, old)
	}
	oldFP, err := remote.Fingerprint(old)
	if err != nil {
		t.Fatal(err)
	}

	// The plan made before the key changes is refused at apply.
	m.edit("common.nix", addHello)
	p := m.plan(engine.PlanOptions{})
	h, err := m.fleet.Restart("storage", testhosts.RestartOptions{NewHostKey: true})
	if err != nil {
		t.Fatal(err)
	}
	if h.HostKey == old || h.HostKey == "" {
		t.Fatalf("storage's new host key %q, want another than %q", h.HostKey, old)
	}
	newFP, err := remote.Fingerprint(h.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	before := m.state()
	logins := m.logins()
	res, ae := m.applyFailing(p)
	pm := plannedMachine(t, p, "storage")
	wantOnlyFailed(t, res, ae, pm.Addr, 2, "host key mismatch for "+h.Address(), "pinned "+oldFP, "presented "+newFP)
	if n := loginDelta(logins, m.logins())["storage"]; n != 0 {
		t.Errorf("storage accepted %d logins, want none: the key must be refused before authenticating", n)
	}
	after := m.state()
	if d := cmp.Diff(before.Machines[pm.Addr], after.Machines[pm.Addr]); d != "" {
		t.Errorf("state record of storage changed (-before +after):\n%s", d)
	}
	if got, want := m.current("storage"), plannedMachine(t, first, "storage").Path; got != want {
		t.Errorf("storage runs %s, want it left at %s", got, want)
	}
	m.wantOthersRun(t, p, "gitServer", "proxy")

	// A new plan fails for storage and says how to re-pin; state is kept.
	before = m.state()
	_, err = m.tryPlan(engine.PlanOptions{})
	if err == nil {
		t.Fatal("plan with a changed host key succeeded")
	}
	for _, want := range []string{"host key changed", "machine.storage", "presented key " + newFP, "pinned " + oldFP, "`ferry host-key pin machine.storage`"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("plan error %q does not contain %q", err, want)
		}
	}
	if d := cmp.Diff(before, m.state()); d != "" {
		t.Errorf("a failed plan changed state (-before +after):\n%s", d)
	}
	if got := m.state().Machines[pm.Addr].HostKey; got != old {
		t.Errorf("state pins %q for storage after the refusal, want the old key %q", got, old)
	}
}

// TestMachinesNixStoreMissing: a host whose login PATH has every tool but
// nix-store fails at the copy saying nix-store is missing on that host;
// with nix-store back on its PATH it deploys.
func TestMachinesNixStoreMissing(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	// The hosts share /usr and /tmp with this machine: a folder in /tmp
	// with every program of /usr/bin but nix-store becomes storage's PATH.
	bin := t.TempDir()
	entries, err := os.ReadDir("/usr/bin")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() == "nix-store" {
			continue
		}
		if err := os.Symlink(filepath.Join("/usr/bin", e.Name()), filepath.Join(bin, e.Name())); err != nil {
			t.Fatal(err)
		}
	}
	h, err := m.fleet.Restart("storage", testhosts.RestartOptions{SetEnv: []string{"PATH=" + bin}})
	if err != nil {
		t.Fatal(err)
	}

	p := m.plan(engine.PlanOptions{})
	pm := plannedMachine(t, p, "storage")
	if pm.Action != plan.Deploy || !pm.CurrentRead {
		t.Errorf("storage planned as %s (current read %v), want a deploy planned against what it runs", pm.Action, pm.CurrentRead)
	}
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, pm.Addr, 2, "copy closure: ", "nix-store not found on "+h.Address()+": is this a NixOS host?")
	var nf *remote.NixNotFoundError
	if !errors.As(res.Failed[pm.Addr], &nf) || nf.Tool != "nix-store" || nf.Host != h.Address() {
		t.Errorf("storage failed with %v, want a *remote.NixNotFoundError for nix-store on %s", res.Failed[pm.Addr], h.Address())
	}
	if got := m.current("storage"); got != "" || h.HasPath(pm.Path) || len(m.activations("storage")) != 0 {
		t.Errorf("storage runs %q (has the system: %v, activations %q), want nothing copied or activated", got, h.HasPath(pm.Path), m.activations("storage"))
	}
	if rec := m.state().Machines[pm.Addr]; rec != nil {
		t.Errorf("state records storage: %+v", rec)
	}
	m.wantOthersRun(t, p, "gitServer", "proxy")

	// The same host with nix-store on its PATH again.
	if _, err := m.fleet.Restart("storage", testhosts.RestartOptions{}); err != nil {
		t.Fatal(err)
	}
	p = m.plan(engine.PlanOptions{})
	if got := plannedMachine(t, p, "storage").Action; got != plan.Deploy {
		t.Fatalf("storage planned as %s, want deploy", got)
	}
	m.applyOK(p)
	m.wantOthersRun(t, p, "storage")
}

// TestMachinesDiskFull: a host whose store fills up fails at the copy with
// the host's error, keeps running its system and its state record, and
// has not registered the new system; the others deploy.
func TestMachinesDiskFull(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	// storage's store is a small tmpfs in its own mount namespace (from
	// outside, B/storage/nix/store stays empty).
	if _, err := m.fleet.RunInHost("storage", "mount", "-t", "tmpfs", "-o", "size=16m,mode=1775", "ferry-test-store", "/nix/store"); err != nil {
		t.Fatal(err)
	}
	first := m.deployAll()
	old := plannedMachine(t, first, "storage").Path
	if got := m.current("storage"); got != old {
		t.Fatalf("storage runs %q, want %s", got, old)
	}
	if _, err := m.fleet.RunInHost("storage", "nix-store", "--check-validity", old); err != nil {
		t.Fatalf("storage's store lacks its system: %v", err)
	}
	before := m.state()

	// Fill the store up.
	out, err := m.fleet.RunInHost("storage", "sh", "-c", "dd if=/dev/zero of=/nix/store/ferry-test-fill bs=64k 2>/dev/null; stat -f -c %a /nix/store")
	if avail := strings.TrimSpace(string(out)); err != nil || avail != "0" {
		t.Fatalf("filling storage's store: %v; %s blocks left, want 0", err, avail)
	}

	m.edit("common.nix", addHello)
	p := m.plan(engine.PlanOptions{})
	if c := p.Count(); c.Deploy != 3 {
		t.Fatalf("plan deploys %d machines, want 3", c.Deploy)
	}
	pm := plannedMachine(t, p, "storage")
	h := m.host("storage")
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, pm.Addr, 2, "copy closure: copy ", "store paths to "+h.Address(), "No space left on device")
	if d := cmp.Diff(before.Machines[pm.Addr], m.state().Machines[pm.Addr]); d != "" {
		t.Errorf("state record of storage changed (-before +after):\n%s", d)
	}
	if got := m.current("storage"); got != old {
		t.Errorf("storage runs %s, want it left at %s", got, old)
	}
	if got := m.activations("storage"); len(got) != 1 {
		t.Errorf("storage activations %q, want only the first deploy's", got)
	}
	if out, err := m.fleet.RunInHost("storage", "nix-store", "--check-validity", pm.Path); err == nil {
		t.Errorf("storage's store registered %s although the copy failed (%s)", pm.Path, out)
	}
	m.wantOthersRun(t, p, "gitServer", "proxy")
}
