package engine_test

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/providers/nix"
)

// These tests share the machine's /nix/store with everyone else: they
// never collect garbage in it. They check liveness with nix-store --gc
// --print-dead (what a collection would remove) and delete only a
// derivation no one else can have: gitServer's, made unique by a domain
// named after the test and the time.

// uniqueDomain makes gitServer's system, and so its .drv, unique to this
// run of this test.
func uniqueDomain(t *testing.T, m *machineEnv, tag string) {
	m.vars["gitServer_extra"] = fmt.Sprintf("{ networking.domain = %q; }",
		fmt.Sprintf("%s-%s-%d.test", strings.ToLower(t.Name()), tag, time.Now().UnixNano()))
}

// pinnedRoots maps each plan folder of the machines deployment's GC roots
// in dir to the derivations its roots hold.
func pinnedRoots(t *testing.T, dir string) map[string][]string {
	t.Helper()
	base := filepath.Join(dir, ".ferry", ".gcroots", machinesDeployment)
	des, err := os.ReadDir(base)
	if errors.Is(err, os.ErrNotExist) {
		return map[string][]string{}
	}
	if err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	for _, de := range des {
		roots, err := nix.Roots(filepath.Join(base, de.Name()))
		if err != nil {
			t.Fatal(err)
		}
		for _, r := range roots {
			out[de.Name()] = append(out[de.Name()], r.Path)
		}
		slices.Sort(out[de.Name()])
	}
	return out
}

// deployedDrvs are the derivations p deploys, sorted.
func deployedDrvs(p *plan.Plan) []string {
	var out []string
	for _, m := range p.Machines {
		if m.Action == plan.Deploy {
			out = append(out, m.Drv)
		}
	}
	slices.Sort(out)
	return slices.Compact(out)
}

// wouldCollect reports, for each path, whether a garbage collection of
// the system store would remove it now (gone already counts as removed).
func wouldCollect(t *testing.T, paths ...string) map[string]bool {
	t.Helper()
	out, err := exec.Command("nix-store", "--gc", "--print-dead").Output()
	if err != nil {
		t.Fatalf("nix-store --gc --print-dead: %v", err)
	}
	dead := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		dead[line] = true
	}
	got := map[string]bool{}
	for _, p := range paths {
		_, statErr := os.Lstat(p)
		got[p] = dead[p] || statErr != nil
	}
	return got
}

func all(paths []string, v bool) map[string]bool {
	out := map[string]bool{}
	for _, p := range paths {
		out[p] = v
	}
	return out
}

// A plan roots every derivation it deploys, in one folder beside the
// configuration; apply releases them once built.
func TestPlanRootsHoldDerivationsUntilApply(t *testing.T) {
	m := newMachineEnv(t, "gitServer", "proxy", "storage")
	uniqueDomain(t, m, "a")
	p := m.plan(engine.PlanOptions{})
	drvs := deployedDrvs(p)
	if len(drvs) != 3 {
		t.Fatalf("the plan deploys %d derivations, want 3", len(drvs))
	}
	roots := pinnedRoots(t, m.dir)
	if len(roots) != 1 {
		t.Fatalf("plan folders with roots: %v, want one", roots)
	}
	for folder, got := range roots {
		if !strings.HasPrefix(folder, fmt.Sprintf("%d-", p.State.Serial)) {
			t.Errorf("plan folder %s is not named after the state serial %d", folder, p.State.Serial)
		}
		if diff := cmp.Diff(drvs, got); diff != "" {
			t.Errorf("rooted derivations (-want +got):\n%s", diff)
		}
	}
	if diff := cmp.Diff(all(drvs, false), wouldCollect(t, drvs...)); diff != "" {
		t.Errorf("a garbage collection after plan would remove (-want +got):\n%s", diff)
	}
	unique := plannedMachine(t, p, "gitServer").Drv
	if out, err := exec.Command("nix-store", "--delete", unique).CombinedOutput(); err == nil || !strings.Contains(string(out), "alive") {
		t.Errorf("nix-store --delete of a rooted derivation: %v, %s; want a refusal: it is alive", err, out)
	}

	m.applyOK(p)
	if roots := pinnedRoots(t, m.dir); len(roots) != 0 {
		t.Errorf("after apply, roots are still held: %v", roots)
	}
	if _, err := os.Stat(filepath.Join(m.dir, ".ferry", ".gcroots", machinesDeployment)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the deployment's roots folder is left after apply: %v", err)
	}
	if !wouldCollect(t, unique)[unique] {
		t.Errorf("after apply, a garbage collection would still keep %s", unique)
	}
}

// Roots of plans that were not applied: kept while the plan can still be
// applied, released by the next plan once the state moved on, and by
// `ferry plan --clean` (CleanPlanRoots) whenever asked; a plan that is
// never saved releases its own (ReleasePlanRoots).
func TestPlanRootsOfUnappliedPlans(t *testing.T) {
	m := newMachineEnv(t, "gitServer", "proxy", "storage")
	ctx := context.Background()
	uniqueDomain(t, m, "0")
	p0 := m.plan(engine.PlanOptions{})
	if n, err := m.eng.ReleasePlanRoots(m.dir, p0); err != nil || n != 3 {
		t.Errorf("ReleasePlanRoots of a plan shown only = %d, %v; want 3 released", n, err)
	}
	if roots := pinnedRoots(t, m.dir); len(roots) != 0 {
		t.Errorf("roots left after ReleasePlanRoots: %v", roots)
	}
	uniqueDomain(t, m, "1")
	p1 := m.plan(engine.PlanOptions{})
	uniqueDomain(t, m, "2")
	p2 := m.plan(engine.PlanOptions{})
	if roots := pinnedRoots(t, m.dir); len(roots) != 2 {
		t.Fatalf("two plans against the same state: roots %v, want two folders", roots)
	}

	m.applyOK(p2)
	roots := pinnedRoots(t, m.dir)
	if diff := cmp.Diff([][]string{deployedDrvs(p1)}, slices.Collect(maps.Values(roots))); diff != "" {
		t.Fatalf("after applying the second plan, roots (-want +got):\n%s", diff)
	}

	// The state moved on: p1 can never be applied, the next plan releases
	// its roots.
	uniqueDomain(t, m, "3")
	p3 := m.plan(engine.PlanOptions{})
	gitDrv := plannedMachine(t, p3, "gitServer").Drv
	roots = pinnedRoots(t, m.dir)
	if diff := cmp.Diff(map[string][]string{fmt.Sprintf("%d-", p3.State.Serial): {gitDrv}}, prefixKeys(roots)); diff != "" {
		t.Errorf("after a plan against the new state, roots (-want +got):\n%s", diff)
	}
	p1Drv := plannedMachine(t, p1, "gitServer").Drv
	if !wouldCollect(t, p1Drv)[p1Drv] {
		t.Errorf("the stale plan's %s is still kept", p1Drv)
	}

	rel, err := m.eng.CleanPlanRoots(ctx, m.dir, machinesDeployment, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(machines.ReleasedRoots{Deployment: machinesDeployment, Plans: 1, Roots: 1,
		Dir: filepath.Join(m.dir, ".ferry", ".gcroots", machinesDeployment)}, rel); diff != "" {
		t.Errorf("CleanPlanRoots (-want +got):\n%s", diff)
	}
	if !wouldCollect(t, gitDrv)[gitDrv] {
		t.Errorf("after --clean, %s is still kept", gitDrv)
	}
	if rel, err := m.eng.CleanPlanRoots(ctx, m.dir, machinesDeployment, time.Second); err != nil || rel.Plans != 0 || rel.Roots != 0 {
		t.Errorf("a second --clean released %+v, %v; want nothing", rel, err)
	}
	// Released is not removed: until a collection, the plan still applies.
	m.applyOK(p3)
}

// prefixKeys renames "<serial>-<id>" keys to "<serial>-".
func prefixKeys(m map[string][]string) map[string][]string {
	out := map[string][]string{}
	for k, v := range m {
		serial, _, _ := strings.Cut(k, "-")
		out[serial+"-"] = v
	}
	return out
}

// Applying a plan whose derivations this machine lacks fails every machine
// at once, naming the derivation and what to run, before any build and
// without logging in to any host.
func TestApplyRefusesMissingDerivations(t *testing.T) {
	m := newMachineEnv(t, "gitServer", "proxy", "storage")
	uniqueDomain(t, m, "gone")
	p := m.plan(engine.PlanOptions{})
	drv := plannedMachine(t, p, "gitServer").Drv
	if _, err := m.eng.CleanPlanRoots(context.Background(), m.dir, machinesDeployment, time.Second); err != nil {
		t.Fatal(err)
	}
	// Only this derivation: no one else can have it.
	if out, err := exec.Command("nix-store", "--delete", drv).CombinedOutput(); err != nil {
		t.Fatalf("nix-store --delete %s: %v\n%s", drv, err, out)
	}
	m.takeEvents()
	before := m.logins()

	// The whole plan is refused before anything runs.
	_, err := m.apply(p)
	var me *machines.MissingDerivationsError
	if !errors.As(err, &me) {
		t.Fatalf("apply: want a *machines.MissingDerivationsError, got %v", err)
	}
	for _, want := range []string{drv + " for machine.gitServer", "run `ferry plan` here", "nothing was built"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("apply error does not say %q:\n%s", want, err)
		}
	}
	if diff := cmp.Diff(before, m.logins()); diff != "" {
		t.Errorf("hosts were logged in to (-before +after):\n%s", diff)
	}
	for _, ev := range m.takeEvents() {
		if strings.HasPrefix(ev.Message, "building ") {
			t.Errorf("a build started: %s", ev.Message)
		}
	}
}
