package engine_test

import (
	"bytes"
	"io/fs"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
)

// The tests of keys, health checks, rollbacks, rolling batches and
// reboots, on real test hosts with the stub nixpkgs (its ferry.test.*
// knobs make activation fail, a health check fail, SSH break after the
// switch, or the host stay down after a reboot).

func newSafetyEnv(t *testing.T, names ...string) *machineEnv {
	t.Helper()
	return newHostListEnv(t, "safety.star", names...)
}

// newHostListEnv is a machineEnv on a configuration of testdata/machines
// that declares one machine per name in the "hosts" var.
func newHostListEnv(t *testing.T, file string, names ...string) *machineEnv {
	t.Helper()
	m := newMachineEnv(t, names...)
	m.file = file
	m.vars["hosts"] = strings.Join(names, ",")
	return m
}

// hostFile reads a file of a test host (a path as the host sees it).
func (m *machineEnv) hostFile(name, p string) (string, fs.FileInfo) {
	m.t.Helper()
	local := filepath.Join(m.host(name).Root, p)
	b, err := os.ReadFile(local)
	if err != nil {
		m.t.Fatalf("%s: %v", name, err)
	}
	info, err := os.Stat(local)
	if err != nil {
		m.t.Fatal(err)
	}
	return string(b), info
}

func owner(t *testing.T, info fs.FileInfo) (string, string) {
	t.Helper()
	st := info.Sys().(*syscall.Stat_t)
	u, err := user.LookupId(strconv.Itoa(int(st.Uid)))
	if err != nil {
		t.Fatal(err)
	}
	g, err := user.LookupGroupId(strconv.Itoa(int(st.Gid)))
	if err != nil {
		t.Fatal(err)
	}
	return u.Username, g.Name
}

// scanForSecret fails the test when secret appears in any file under dirs
// or in any event seen.
func scanForSecret(t *testing.T, secret string, events []engine.Event, dirs ...string) {
	t.Helper()
	for _, dir := range dirs {
		err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() {
				return err
			}
			b, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("the secret %q appears in %s", secret, p)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	for _, ev := range events {
		if strings.Contains(ev.Message, secret) {
			t.Errorf("the secret %q appears in the event %+v", secret, ev)
		}
	}
}

func TestKeys(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2")
	keyFile := filepath.Join(t.TempDir(), "tls.pem")
	if err := os.WriteFile(keyFile, []byte("-----BEGIN tls-secret-in-a-file-----"), 0o600); err != nil {
		t.Fatal(err)
	}
	m.vars["key_file"] = keyFile
	m.vars["secret"] = "hunter2-secret-value"

	p := m.plan(engine.PlanOptions{})
	for _, pm := range p.Machines {
		if len(pm.Keys) != 3 {
			t.Fatalf("%s plans %d keys, want 3", pm.Addr, len(pm.Keys))
		}
		for _, k := range pm.Keys {
			want := "new"
			if k.Name == "token" {
				want = "at apply"
			}
			if k.Change != want || (k.Name != "token" && !strings.HasPrefix(k.Hash, "hmac-sha256:")) {
				t.Errorf("%s key %s: change %q hash %q, want %q with a keyed hash", pm.Addr, k.Name, k.Change, k.Hash, want)
			}
		}
	}
	m.applyOK(p)
	evs := m.takeEvents()
	for _, name := range []string{"h1", "h2"} {
		content, info := m.hostFile(name, "run/keys/db-password")
		if content != "hunter2-secret-value" {
			t.Errorf("%s: db-password = %q", name, content)
		}
		if u, g := owner(t, info); u != "nobody" || g != "nogroup" || info.Mode().Perm() != 0o640 {
			t.Errorf("%s: db-password is %s:%s %v, want nobody:nogroup 0640", name, u, g, info.Mode().Perm())
		}
		token, info := m.hostFile(name, "run/ferry-keys/token")
		if token != "token-of-"+name || info.Mode().Perm() != 0o600 {
			t.Errorf("%s: token = %q mode %v, want %q 0600", name, token, info.Mode().Perm(), "token-of-"+name)
		}
		if tls, _ := m.hostFile(name, "run/keys/tls.pem"); tls != "-----BEGIN tls-secret-in-a-file-----" {
			t.Errorf("%s: tls.pem = %q", name, tls)
		}
		if got := len(m.state().Machines["machine."+name].Keys); got != 3 {
			t.Errorf("%s: state records %d key hashes, want 3", name, got)
		}
	}

	// Nothing changed: no machine to deploy, and the plan says so.
	p = m.plan(engine.PlanOptions{})
	if d := cmp.Diff(map[string]plan.Action{"h1": plan.Noop, "h2": plan.Noop}, machineActions(p)); d != "" {
		t.Errorf("re-plan (-want +got):\n%s", d)
	}

	// A new secret: only the keys are uploaded, nothing is activated.
	m.vars["secret"] = "hunter3-new-secret"
	p = m.plan(engine.PlanOptions{})
	if d := cmp.Diff(map[string]plan.Action{"h1": plan.UploadKeys, "h2": plan.UploadKeys}, machineActions(p)); d != "" {
		t.Errorf("plan after the secret changed (-want +got):\n%s", d)
	}
	if k := plannedMachine(t, p, "h1").Keys[0]; k.Name != "db-password" || k.Change != "changed" {
		t.Errorf("h1 key %s: change %q, want db-password changed", k.Name, k.Change)
	}
	activations := len(m.activations("h1"))
	planFile, err := os.ReadFile(filepath.Join(m.dir, "plan.json"))
	if err != nil {
		t.Fatal(err)
	}
	m.applyOK(p)
	evs = append(evs, m.takeEvents()...)
	if content, _ := m.hostFile("h1", "run/keys/db-password"); content != "hunter3-new-secret" {
		t.Errorf("h1: db-password = %q after the upload, want the new secret", content)
	}
	if n := len(m.activations("h1")); n != activations {
		t.Errorf("uploading keys activated h1 (%d activations, was %d)", n, activations)
	}

	// The secrets are nowhere: not in the plan, the state, or an event.
	for _, secret := range []string{"hunter2-secret-value", "hunter3-new-secret", "tls-secret-in-a-file", "token-of-h1"} {
		if bytes.Contains(planFile, []byte(secret)) {
			t.Errorf("the secret %q appears in the plan file", secret)
		}
		scanForSecret(t, secret, evs, filepath.Join(m.dir, "plan.json"), m.stateDir)
	}

	// A key file that changed after the plan makes the plan stale.
	m.vars["secret"] = "hunter4"
	p = m.plan(engine.PlanOptions{})
	if err := os.WriteFile(keyFile, []byte("rotated"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := m.apply(p); err == nil || !strings.Contains(err.Error(), "key tls.pem of machine.h1") || !strings.Contains(err.Error(), "changed since the plan") {
		t.Errorf("apply after the key file changed: %v, want a stale plan naming the key", err)
	}

	// A missing key file fails the plan, naming the key and the file.
	os.Remove(keyFile)
	_, err = m.tryPlan(engine.PlanOptions{})
	if err == nil || !strings.Contains(err.Error(), "safety.star:") || !strings.Contains(err.Error(), "key tls.pem: cannot read "+keyFile) {
		t.Errorf("plan with a missing key file: %v, want safety.star:LINE:COL naming the key and the file", err)
	}
	delete(m.vars, "key_file")

	// A failing key command fails that machine only.
	m.vars["h2_token_cmd"] = "echo no token here >&2; exit 3"
	m.vars["h1_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"
	m.vars["h2_extra"] = m.vars["h1_extra"]
	p = m.plan(engine.PlanOptions{})
	res, ae := m.applyFailing(p)
	if err := res.Failed["machine.h2"]; err == nil || !strings.Contains(err.Error(), "key token of machine.h2: command sh failed") || !strings.Contains(err.Error(), "no token here") {
		t.Errorf("h2 failed with %v, want the key command's failure and stderr", err)
	}
	if _, failed := res.Failed["machine.h1"]; failed || res.Deployed != 1 {
		t.Errorf("h1 failed too (%v), deployed %d: %v", failed, res.Deployed, ae)
	}
}

func TestHealthCheckRollback(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2")
	good := m.plan(engine.PlanOptions{})
	m.applyOK(good)
	goodPath := map[string]string{"h1": m.current("h1"), "h2": m.current("h2")}

	// Both unhealthy; h1 rolls back, h2 is left as it is.
	m.vars["h1_extra"] = "{ ferry.test.unhealthy = true; }"
	m.vars["h2_extra"] = "{ ferry.test.unhealthy = true; }"
	m.vars["h1_rollback"] = "true"
	p := m.plan(engine.PlanOptions{})
	res, ae := m.applyFailing(p)
	for _, name := range []string{"h1", "h2"} {
		err := res.Failed["machine."+name]
		if err == nil || !strings.Contains(err.Error(), "health check") || !strings.Contains(err.Error(), "unhealthy") {
			t.Errorf("%s: failure %v, want the failing health check and its output", name, err)
		}
	}
	if got := m.current("h1"); got != goodPath["h1"] {
		t.Errorf("h1 runs %s after the failed check, want the previous %s (rollback_on_failure)", got, goodPath["h1"])
	}
	if got := m.profile("h1"); got != goodPath["h1"] {
		t.Errorf("h1's profile is %s after the rollback, want %s", got, goodPath["h1"])
	}
	if got := m.current("h2"); got != plannedMachine(t, p, "h2").Path {
		t.Errorf("h2 runs %s, want the new (unhealthy) system left in place", got)
	}
	if res.RolledBack["machine.h1"] != goodPath["h1"] || !strings.Contains(ae.Error(), "machine.h1: rolled back to "+goodPath["h1"]) {
		t.Errorf("summary: %v; rolled back %v", ae, res.RolledBack)
	}
	rec := m.state().Machines["machine.h1"]
	if rec.LastRollback == nil || rec.LastRollback.To != goodPath["h1"] || rec.Path != goodPath["h1"] {
		t.Errorf("state of h1: path %s, last rollback %+v; want the rollback recorded and the old system kept", rec.Path, rec.LastRollback)
	}
	// h2 runs the unhealthy system: state says so, so that `ferry
	// rollback` and the next plan start from the truth.
	if rec := m.state().Machines["machine.h2"]; rec.Path != plannedMachine(t, p, "h2").Path || rec.LastRollback != nil {
		t.Errorf("state of h2: path %s, last rollback %+v; want the new system it runs", rec.Path, rec.LastRollback)
	}
}

func TestActivationFailureRollback(t *testing.T) {
	m := newSafetyEnv(t, "h1")
	m.applyOK(m.plan(engine.PlanOptions{}))
	good := m.current("h1")
	m.vars["h1_extra"] = "{ ferry.test.failActivation = true; }"
	m.vars["h1_rollback"] = "true"
	res, _ := m.applyFailing(m.plan(engine.PlanOptions{}))
	if err := res.Failed["machine.h1"]; err == nil || !strings.Contains(err.Error(), "activate (switch)") || !strings.Contains(err.Error(), "rolled back to "+good) {
		t.Errorf("h1: %v, want the activation failure and the rollback", err)
	}
	if m.current("h1") != good || m.profile("h1") != good {
		t.Errorf("h1 runs %s with profile %s, want both back at %s", m.current("h1"), m.profile("h1"), good)
	}
}

// TestMagicRollback: the new system cuts SSH logins after the switch, so
// ferry cannot confirm; the host's watchdog switches back by itself,
// which restores SSH.
func TestMagicRollback(t *testing.T) {
	m := newSafetyEnv(t, "h1")
	m.applyOK(m.plan(engine.PlanOptions{}))
	good := m.current("h1")
	m.vars["h1_extra"] = "{ ferry.test.cutSSH = true; }"
	m.vars["h1_confirm"] = "2s"
	p := m.plan(engine.PlanOptions{})
	if pm := plannedMachine(t, p, "h1"); !pm.MagicRollback || pm.ConfirmTimeout != "2s" {
		t.Fatalf("plan: magic rollback %v within %q", pm.MagicRollback, pm.ConfirmTimeout)
	}
	res, _ := m.applyFailing(p)
	err := res.Failed["machine.h1"]
	if err == nil || !strings.Contains(err.Error(), "switch not confirmed") || !strings.Contains(err.Error(), "rolled itself back to "+good) {
		t.Errorf("h1: %v, want an unconfirmed switch rolled back", err)
	}
	if got := m.current("h1"); got != good {
		t.Errorf("h1 runs %s, want %s again", got, good)
	}
	rec := m.state().Machines["machine.h1"]
	if rec.LastRollback == nil || rec.LastRollback.From != plannedMachine(t, p, "h1").Path || rec.Path != good {
		t.Errorf("state: %+v", rec)
	}
	// SSH works again: a plan reads the host.
	delete(m.vars, "h1_extra")
	p = m.plan(engine.PlanOptions{})
	if pm := plannedMachine(t, p, "h1"); !pm.CurrentRead || pm.Current != good || pm.Action != plan.Noop {
		t.Errorf("after the rollback: read %v current %s action %s, want the good system, unchanged", pm.CurrentRead, pm.Current, pm.Action)
	}
}

// TestRollout: one machine at a time, no failure allowed; the second
// machine fails to activate, so the third and fourth are not touched.
func TestRollout(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2", "h3", "h4")
	m.vars["rollout"] = "1"
	m.vars["h2_extra"] = "{ ferry.test.failActivation = true; }"
	p := m.plan(engine.PlanOptions{})
	if p.Rollout == nil || len(p.Rollout.Batches) != 4 || plannedMachine(t, p, "h3").Batch != 3 {
		t.Fatalf("rollout %+v", p.Rollout)
	}
	res, ae := m.applyFailing(p)
	if res.Deployed != 1 || res.Failed["machine.h2"] == nil {
		t.Errorf("deployed %d, failed %v", res.Deployed, res.Failed)
	}
	for _, name := range []string{"h3", "h4"} {
		if m.current(name) != "" || len(m.activations(name)) != 0 {
			t.Errorf("%s was touched after the rollout stopped", name)
		}
		if !strings.Contains(ae.Error(), "machine."+name+": not touched: the rollout stopped") {
			t.Errorf("summary does not say %s was not touched:\n%v", name, ae)
		}
	}
	if gate := res.Failed[plan.GateAddr(2)]; gate == nil || !strings.Contains(gate.Error(), "rollout stopped after batch 2 of 4: 1 machine failed (machine.h2), more than max_failures = 0") {
		t.Errorf("gate: %v", gate)
	}

	// With one failure allowed, the rest goes on.
	m.vars["max_failures"] = "1"
	p = m.plan(engine.PlanOptions{})
	res, _ = m.applyFailing(p)
	if res.Deployed != 2 || len(res.Skipped) != 0 {
		t.Errorf("with max_failures 1: deployed %d, skipped %v, want h3 and h4 deployed", res.Deployed, res.Skipped)
	}

	// Health-gated: a new release whose health check never passes on h1
	// stops the rollout after the first batch, within the check's bound.
	m.vars["max_failures"] = "0"
	delete(m.vars, "h2_extra")
	for _, name := range []string{"h1", "h2", "h3", "h4"} {
		m.vars[name+"_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"
	}
	m.vars["h1_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; ferry.test.unhealthy = true; }"
	p = m.plan(engine.PlanOptions{})
	before := map[string]string{}
	for _, name := range []string{"h2", "h3", "h4"} {
		before[name] = m.current(name)
	}
	res, ae = m.applyFailing(p)
	if err := res.Failed["machine.h1"]; err == nil || !strings.Contains(err.Error(), "ferry stub: h1 is unhealthy") {
		t.Errorf("h1: %v, want its health check's output", err)
	}
	for _, name := range []string{"h2", "h3", "h4"} {
		if m.current(name) != before[name] {
			t.Errorf("%s changed after the rollout stopped", name)
		}
	}
	if len(res.Skipped) != 3 || !strings.Contains(ae.Error(), "rollout stopped after batch 1 of 4") {
		t.Errorf("skipped %v:\n%v", res.Skipped, ae)
	}
}

// TestReboot: --reboot always boots the new system; after that, a new
// kernel needs a reboot (the plan says so) and --reboot if-needed does it,
// with /run keys uploaded again; a change that leaves the kernel alone
// needs none; a host that stays down is reported after the timeout.
func TestReboot(t *testing.T) {
	m := newSafetyEnv(t, "h1")
	m.applyOpts.RebootTimeout = 20 * time.Second
	m.applyOK(m.plan(engine.PlanOptions{}))
	// The host was never booted by ferry: whether a reboot is needed is
	// not known until it has a /run/booted-system.
	m.vars["h1_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }"
	p := m.plan(engine.PlanOptions{Reboot: machines.RebootAlways})
	pm := plannedMachine(t, p, "h1")
	if pm.Reboot == nil || !pm.Reboot.Will || pm.Activate != "boot" {
		t.Fatalf("first plan: reboot %+v, activate %s; want a reboot with boot", pm.Reboot, pm.Activate)
	}
	bootID := func() string {
		b, err := os.ReadFile(m.host("h1").BootIDFile())
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(b))
	}
	id0 := bootID()
	m.applyOK(p)
	if m.fleet.Reboots("h1") != 1 || bootID() == id0 {
		t.Fatalf("reboots %d, boot ID %s (was %s): want one reboot", m.fleet.Reboots("h1"), bootID(), id0)
	}
	if m.current("h1") != pm.Path {
		t.Errorf("after the reboot h1 runs %s, want %s", m.current("h1"), pm.Path)
	}
	if rec := m.state().Machines["machine.h1"]; rec.BootID != bootID() || rec.Path != pm.Path {
		t.Errorf("state: boot ID %q path %s", rec.BootID, rec.Path)
	}
	if content, _ := m.hostFile("h1", "run/keys/db-password"); content != "hunter2-h1" {
		t.Errorf("db-password after the reboot = %q", content)
	}

	// A new kernel: the plan says a reboot is needed, and why.
	m.vars["h1_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; boot.kernelPackages = pkgs.linuxPackages_latest; }"
	p = m.plan(engine.PlanOptions{})
	pm = plannedMachine(t, p, "h1")
	if pm.Reboot == nil || !pm.Reboot.Needed || pm.Reboot.Will || len(pm.Reboot.Reasons) == 0 || !strings.Contains(strings.Join(pm.Reboot.Reasons, " "), "kernel") {
		t.Fatalf("plan with a new kernel, --reboot never: %+v", pm.Reboot)
	}
	// Switched without a reboot: the host runs the new system but booted
	// the old kernel. The next plan with --reboot if-needed reboots it.
	m.applyOK(p)
	if m.fleet.Reboots("h1") != 1 || m.current("h1") != pm.Path {
		t.Fatalf("--reboot never: reboots %d, running %s", m.fleet.Reboots("h1"), m.current("h1"))
	}
	if pn := plannedMachine(t, m.plan(engine.PlanOptions{}), "h1"); pn.Action != plan.Noop || pn.Reboot == nil || !pn.Reboot.Needed {
		t.Errorf("up to date but booted the old kernel, --reboot never: action %s, reboot %+v; want noop, reboot needed", pn.Action, pn.Reboot)
	}
	p = m.plan(engine.PlanOptions{Reboot: machines.RebootIfNeeded})
	pm = plannedMachine(t, p, "h1")
	if pm.Action != plan.Deploy || pm.Reboot == nil || !pm.Reboot.Will || !strings.Contains(pm.Reason, "booted another kernel") {
		t.Fatalf("plan of the up-to-date host with --reboot if-needed: action %s, reason %q, reboot %+v", pm.Action, pm.Reason, pm.Reboot)
	}
	m.applyOK(p)
	if m.fleet.Reboots("h1") != 2 || m.current("h1") != pm.Path {
		t.Errorf("reboots %d, running %s; want a second reboot into %s", m.fleet.Reboots("h1"), m.current("h1"), pm.Path)
	}
	if _, err := os.Stat(filepath.Join(m.host("h1").Root, "run/ferry-keys/token")); err != nil {
		t.Errorf("the /run key token is gone after the reboot: %v", err)
	}

	// A package change keeps the kernel: no reboot needed.
	m.vars["h1_extra"] = "{ pkgs, ... }: { boot.kernelPackages = pkgs.linuxPackages_latest; environment.systemPackages = [ pkgs.vim ]; }"
	p = m.plan(engine.PlanOptions{Reboot: machines.RebootIfNeeded})
	if pm := plannedMachine(t, p, "h1"); pm.Reboot != nil || pm.Activate != "switch" {
		t.Errorf("plan of a package change: reboot %+v, activate %s; want no reboot, switch", pm.Reboot, pm.Activate)
	}
	m.applyOK(p)
	if m.fleet.Reboots("h1") != 2 {
		t.Errorf("a package change rebooted h1")
	}

	// A host that does not come back. The running system reboots, so the
	// knob goes in with a switch first.
	m.vars["h1_extra"] = "{ ferry.test.noReturnAfterReboot = true; }"
	m.applyOK(m.plan(engine.PlanOptions{}))
	m.vars["h1_extra"] = "{ pkgs, ... }: { ferry.test.noReturnAfterReboot = true; environment.systemPackages = [ pkgs.git ]; }"
	m.applyOpts.RebootTimeout = 3 * time.Second
	res, _ := m.applyFailing(m.plan(engine.PlanOptions{Reboot: machines.RebootAlways}))
	if err := res.Failed["machine.h1"]; err == nil || !strings.Contains(err.Error(), "did not come back within 3s") {
		t.Errorf("h1: %v, want a reboot timeout", err)
	}
}

// TestEvalMemoryPasses: a small --eval-memory evaluates the fleet in
// several nix-instantiate passes and plans exactly the same systems.
func TestEvalMemoryPasses(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2", "h3")
	one := m.plan(engine.PlanOptions{NoRefresh: true})
	m.takeEvents()
	split := m.plan(engine.PlanOptions{NoRefresh: true, EvalMemory: 1 << 20})
	passes := 0
	for _, ev := range m.takeEvents() {
		if strings.HasPrefix(ev.Message, "evaluation pass: ") {
			passes++
		}
	}
	if passes < 2 {
		t.Errorf("%d evaluation passes with a 1 MiB budget, want several", passes)
	}
	for _, pm := range one.Machines {
		if got := plannedMachine(t, split, pm.Name); got.Drv != pm.Drv || got.Path != pm.Path {
			t.Errorf("%s: split evaluation planned %s, one pass %s", pm.Name, got.Drv, pm.Drv)
		}
	}
}

// TestOneConnectionWithoutMagicRollback: a switch guarded by the magic
// rollback logs in once more to confirm; without it a deploy uses exactly
// one SSH connection per host.
func TestOneConnectionWithoutMagicRollback(t *testing.T) {
	m := newSafetyEnv(t, "h1", "h2")
	m.vars["h2_magic"] = "false"
	m.applyOK(m.plan(engine.PlanOptions{}))
	m.vars["h1_extra"] = "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"
	m.vars["h2_extra"] = m.vars["h1_extra"]
	p := m.plan(engine.PlanOptions{})
	if !plannedMachine(t, p, "h1").MagicRollback || plannedMachine(t, p, "h2").MagicRollback {
		t.Fatalf("magic rollback planned for h1 %v, h2 %v; want only h1", plannedMachine(t, p, "h1").MagicRollback, plannedMachine(t, p, "h2").MagicRollback)
	}
	before := m.logins()
	m.applyOK(p)
	if d := cmp.Diff(map[string]int{"h1": 2, "h2": 1}, loginDelta(before, m.logins())); d != "" {
		t.Errorf("SSH connections per host (-want +got):\n%s", d)
	}
}

// TestSlowActivationIsNotRolledBack: the confirmation timeout counts from
// the end of the activation, so an activation longer than it is kept.
func TestSlowActivationIsNotRolledBack(t *testing.T) {
	m := newSafetyEnv(t, "h1")
	m.applyOK(m.plan(engine.PlanOptions{}))
	m.vars["h1_extra"] = "{ ferry.test.activationDelay = 3; }"
	m.vars["h1_confirm"] = "2s"
	p := m.plan(engine.PlanOptions{})
	res := m.applyOK(p)
	if got := m.current("h1"); got != plannedMachine(t, p, "h1").Path || res.RolledBack != nil && res.RolledBack["machine.h1"] != "" {
		t.Errorf("h1 runs %s (rolled back %v), want the slowly activated new system", got, res.RolledBack)
	}
	if rec := m.state().Machines["machine.h1"]; rec.LastRollback != nil || rec.Path != plannedMachine(t, p, "h1").Path {
		t.Errorf("state: %+v", rec)
	}
}
