package engine_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote/testhosts"
)

// The named limits of apply (--max-concurrent-copy, --max-concurrent-activate)
// and build_on_target, on fleets of testdata/machines/fleet.star.

func newFleetEnv(t *testing.T, names ...string) *machineEnv {
	t.Helper()
	return newHostListEnv(t, "fleet.star", names...)
}

// window is a stretch of time during which a machine certainly held a
// limit's slot: from an event apply emits after taking the slot to a change
// the host made before apply gave the slot back. (File times come from the
// kernel's coarse clock, which only makes a window shorter.)
type window struct {
	name     string
	from, to time.Time
}

func (w window) String() string {
	return fmt.Sprintf("%s [%s, %s]", w.name, w.from.Format("15:04:05.000000"), w.to.Format("15:04:05.000000"))
}

// maxOverlap is the largest number of windows that hold one instant.
func maxOverlap(ws []window) int {
	most := 0
	for _, w := range ws {
		n := 0
		for _, o := range ws {
			if !w.from.Before(o.from) && w.from.Before(o.to) {
				n++
			}
		}
		most = max(most, n)
	}
	return most
}

// progressTimes returns, per machine name, the time of its first progress
// event whose message matches re.
func progressTimes(evs []engine.Event, re *regexp.Regexp) map[string]time.Time {
	out := map[string]time.Time{}
	for _, ev := range evs {
		name, ok := strings.CutPrefix(ev.Addr, "machine.")
		if !ok || ev.Kind != engine.EventProgress || !re.MatchString(ev.Message) {
			continue
		}
		if _, seen := out[name]; !seen {
			out[name] = ev.Time
		}
	}
	return out
}

var (
	copyingRE    = regexp.MustCompile(`^copying \d+ paths`)
	activatingRE = regexp.MustCompile(`^activating \(switch\)$`)
)

// windows pairs each host's event time with the modification time of a
// file of the host (a path under its root, as the host sees it).
func (m *machineEnv) windows(t *testing.T, names []string, from map[string]time.Time, file string) []window {
	t.Helper()
	var ws []window
	for _, name := range names {
		start, ok := from[name]
		if !ok {
			t.Fatalf("no progress event of %s to start its window", name)
		}
		info, err := os.Lstat(filepath.Join(m.host(name).Root, file))
		if err != nil {
			t.Fatal(err)
		}
		w := window{name, start, info.ModTime()}
		if !w.from.Before(w.to) {
			t.Errorf("%s: %s changed at %s, not after the event at %s: the window is not what the test thinks", name, file, w.to, w.from)
		}
		ws = append(ws, w)
	}
	slices.SortFunc(ws, func(a, b window) int { return a.from.Compare(b.from) })
	t.Logf("%s windows: %v", file, ws)
	return ws
}

// copyWindows run from the "copying N paths" event (sent after taking a
// copy slot, before the stream starts) to the last change of the host's
// /nix/store (the last path nix-store --import moved in; nothing else
// writes it during these deploys).
func (m *machineEnv) copyWindows(t *testing.T, names []string, evs []engine.Event) []window {
	return m.windows(t, names, progressTimes(evs, copyingRE), "nix/store")
}

// activateWindows run from the "activating (switch)" event (sent after
// taking an activation slot) to the stub's switch-to-configuration
// creating /run/ferry-test/boot-system, its last step.
func (m *machineEnv) activateWindows(t *testing.T, names []string, evs []engine.Event) []window {
	return m.windows(t, names, progressTimes(evs, activatingRE), "run/ferry-test/boot-system")
}

// TestMachinesConcurrencyLimits deploys four fresh hosts three times:
// with one activation at a time the activations never overlap, with one
// copy at a time the copies never overlap, and with the defaults (5
// copies, 10 activations) both do.
func TestMachinesConcurrencyLimits(t *testing.T) {
	names := []string{"h1", "h2", "h3", "h4"}
	deploy := func(t *testing.T, opts engine.ApplyOptions) (*machineEnv, []engine.Event) {
		t.Helper()
		m := newFleetEnv(t, names...)
		m.applyOpts = opts
		p := m.plan(engine.PlanOptions{})
		m.takeEvents()
		res := m.applyOK(p)
		if res.Deployed != len(names) {
			t.Fatalf("deployed %d machines, want %d", res.Deployed, len(names))
		}
		for _, name := range names {
			if got, want := m.current(name), plannedMachine(t, p, name).Path; got != want {
				t.Errorf("%s runs %q, want %s", name, got, want)
			}
		}
		return m, m.takeEvents()
	}

	t.Run("max-concurrent-activate 1", func(t *testing.T) {
		m, evs := deploy(t, engine.ApplyOptions{MaxConcurrentActivate: 1})
		ws := m.activateWindows(t, names, evs)
		if n := maxOverlap(ws); n != 1 {
			t.Errorf("%d activations ran at once, want 1: %v", n, ws)
		}
	})
	t.Run("max-concurrent-copy 1", func(t *testing.T) {
		m, evs := deploy(t, engine.ApplyOptions{MaxConcurrentCopy: 1})
		ws := m.copyWindows(t, names, evs)
		if n := maxOverlap(ws); n != 1 {
			t.Errorf("%d copies ran at once, want 1: %v", n, ws)
		}
	})
	t.Run("defaults", func(t *testing.T) {
		// The windows above are narrow enough to overlap when nothing
		// bounds them: otherwise the checks above would prove nothing.
		m, evs := deploy(t, engine.ApplyOptions{})
		if ws := m.copyWindows(t, names, evs); maxOverlap(ws) < 2 {
			t.Errorf("copies never overlapped with the default limit: %v", ws)
		}
		if ws := m.activateWindows(t, names, evs); maxOverlap(ws) < 2 {
			t.Errorf("activations never overlapped with the default limit: %v", ws)
		}
	})
}

// localValid reports whether this machine's store holds p.
func localValid(t *testing.T, p string) bool {
	t.Helper()
	err := exec.Command("nix-store", "--check-validity", p).Run()
	if _, ok := err.(*exec.ExitError); err != nil && !ok {
		t.Fatal(err)
	}
	return err == nil
}

// TestMachinesBuildOnTarget: a machine with build_on_target gets the
// planned derivation's closure and builds it itself; it runs the planned
// system, which this machine's store never holds. A machine beside it is
// built locally as usual.
func TestMachinesBuildOnTarget(t *testing.T) {
	m := newFleetEnv(t, "h1", "h2")
	// A domain of this run only: no earlier test built these systems.
	nonce := strconv.FormatInt(time.Now().UnixNano(), 36)
	domain := "bot-" + nonce + ".test"
	m.vars["h1_extra"] = fmt.Sprintf("{ networking.domain = %q; }", domain)
	m.vars["h2_extra"] = m.vars["h1_extra"]
	m.vars["h1_build_on_target"] = "true"
	p := m.plan(engine.PlanOptions{})
	pm, local := plannedMachine(t, p, "h1"), plannedMachine(t, p, "h2")
	if !pm.BuildOnTarget || local.BuildOnTarget || pm.Action != plan.Deploy {
		t.Fatalf("h1 build on target %v (%s), h2 %v: want h1 only", pm.BuildOnTarget, pm.Action, local.BuildOnTarget)
	}
	if localValid(t, pm.Path) {
		t.Fatalf("%s is in the local store before the apply: the test needs a system nobody built", pm.Path)
	}
	m.takeEvents()
	res := m.applyOK(p)
	if res.Deployed != 2 {
		t.Errorf("deployed %d machines, want 2", res.Deployed)
	}
	evs := m.takeEvents()

	h := m.host("h1")
	if got := m.current("h1"); got != pm.Path {
		t.Errorf("h1 runs %q, want the planned %s", got, pm.Path)
	}
	if got := m.profile("h1"); got != pm.Path {
		t.Errorf("h1's system profile is %q, want %s", got, pm.Path)
	}
	if !h.HasPath(pm.Drv) {
		t.Errorf("h1 lacks the derivation %s it was to build", pm.Drv)
	}
	if got := m.hostConfig("h1")["domain"]; got != domain {
		t.Errorf("h1's system has domain %v, want %q", got, domain)
	}
	if localValid(t, pm.Path) {
		t.Errorf("%s was built in the local store, want it built on h1 only", pm.Path)
	}
	if !localValid(t, local.Path) || m.current("h2") != local.Path {
		t.Errorf("h2 runs %q (built locally: %v), want %s", m.current("h2"), localValid(t, local.Path), local.Path)
	}

	var builds []string
	onTarget := map[string]bool{}
	for _, ev := range evs {
		if ev.Kind != engine.EventProgress {
			continue
		}
		if ev.Addr == "" {
			builds = append(builds, ev.Message)
		}
		if ev.Message == "building on the target" {
			onTarget[ev.Addr] = true
		}
	}
	if d := cmp.Diff([]string{"building 1 system in one nix-store --realise", "built 1 of 1 system"}, builds); d != "" {
		t.Errorf("local build progress (-want +got):\n%s", d)
	}
	if d := cmp.Diff(map[string]bool{pm.Addr: true}, onTarget); d != "" {
		t.Errorf("machines built on the target (-want +got):\n%s", d)
	}
	rec := m.state().Machines[pm.Addr]
	if rec == nil || rec.Path != pm.Path || rec.Drv != pm.Drv || rec.Generation != 1 || rec.HostKey != h.HostKey {
		t.Errorf("state record of h1: %+v, want path %s, drv %s, generation 1, host key pinned", rec, pm.Path, pm.Drv)
	}

	// Planned again, nothing is left to do.
	again := m.plan(engine.PlanOptions{})
	if d := cmp.Diff(map[string]plan.Action{"h1": plan.Noop, "h2": plan.Noop}, machineActions(again)); d != "" {
		t.Errorf("re-plan (-want +got):\n%s", d)
	}
	if got := plannedMachine(t, again, "h1"); got.Path != pm.Path || got.Current != pm.Path {
		t.Errorf("re-plan of %s: path %s, current %s; want both %s", spec.MachineAddr("h1"), got.Path, got.Current, pm.Path)
	}
}

// importLog is where the nix-store wrapper of logImports appends
// "start NS" and "end NS" (nanoseconds since the epoch) around every
// nix-store --import on a host, as the host sees it.
const importLog = "/run/ferry-test-imports"

// logImports restarts the named hosts with a PATH whose nix-store logs
// every nix-store --import to importLog before running the real one.
func (m *machineEnv) logImports(t *testing.T, names []string) {
	t.Helper()
	dir := t.TempDir() // the hosts share /tmp with this machine
	wrapper := `#!/bin/sh
if [ "$1" = --import ]; then
  echo "start $(date +%s%N)" >> ` + importLog + `
  /usr/bin/nix-store "$@"
  rc=$?
  echo "end $(date +%s%N)" >> ` + importLog + `
  exit $rc
fi
exec /usr/bin/nix-store "$@"
`
	if err := os.WriteFile(filepath.Join(dir, "nix-store"), []byte(wrapper), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		if _, err := m.fleet.Restart(name, testhosts.RestartOptions{SetEnv: []string{"PATH=" + dir + ":/usr/sbin:/usr/bin:/sbin:/bin"}}); err != nil {
			t.Fatal(err)
		}
	}
}

// importWindows reads and empties each host's importLog: one window per
// nix-store --import, in order of start.
func (m *machineEnv) importWindows(t *testing.T, names []string) []window {
	t.Helper()
	var ws []window
	for _, name := range names {
		file := filepath.Join(m.host(name).Root, importLog)
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("%s ran no nix-store --import: %v", name, err)
		}
		if err := os.Remove(file); err != nil {
			t.Fatal(err)
		}
		var open *window
		for _, line := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			what, ns, _ := strings.Cut(line, " ")
			n, err := strconv.ParseInt(ns, 10, 64)
			if err != nil {
				t.Fatalf("%s: bad line %q in %s", name, line, importLog)
			}
			switch {
			case what == "start" && open == nil:
				open = &window{name: name, from: time.Unix(0, n)}
			case what == "end" && open != nil:
				open.to = time.Unix(0, n)
				ws = append(ws, *open)
				open = nil
			default:
				t.Fatalf("%s: unexpected line %q in %s:\n%s", name, line, importLog, b)
			}
		}
		if open != nil {
			t.Fatalf("%s: an import never ended:\n%s", name, b)
		}
	}
	slices.SortFunc(ws, func(a, b window) int { return a.from.Compare(b.from) })
	t.Logf("imports: %v", ws)
	return ws
}

// TestMachinesCopyLimitBuildOnTarget: --max-concurrent-copy 1 makes the
// hosts' nix-store --import run one at a time, measured on the hosts; it
// must do so too for build_on_target machines, which are sent their
// derivation closures.
func TestMachinesCopyLimitBuildOnTarget(t *testing.T) {
	names := []string{"h1", "h2", "h3", "h4"}
	m := newFleetEnv(t, names...)
	m.logImports(t, names)
	m.applyOpts.MaxConcurrentCopy = 1

	m.applyOK(m.plan(engine.PlanOptions{}))
	ws := m.importWindows(t, names)
	if len(ws) != len(names) || maxOverlap(ws) != 1 {
		t.Errorf("closures built here: %d imports, %d at once; want %d, one at a time: %v", len(ws), maxOverlap(ws), len(names), ws)
	}

	for _, name := range names {
		m.vars[name+"_build_on_target"] = "true"
		m.vars[name+"_extra"] = `{ networking.domain = "built-on-target.test"; }`
	}
	p := m.plan(engine.PlanOptions{})
	if c := p.Count(); c.Deploy != len(names) {
		t.Fatalf("plan deploys %d machines, want %d", c.Deploy, len(names))
	}
	m.applyOK(p)
	for _, name := range names {
		if got, want := m.current(name), plannedMachine(t, p, name).Path; got != want {
			t.Errorf("%s runs %q, want %s", name, got, want)
		}
	}
	ws = m.importWindows(t, names)
	if len(ws) != len(names) || maxOverlap(ws) != 1 {
		t.Errorf("derivation closures for build_on_target: %d imports, %d at once; want %d, one at a time (--max-concurrent-copy 1): %v", len(ws), maxOverlap(ws), len(names), ws)
	}
}
