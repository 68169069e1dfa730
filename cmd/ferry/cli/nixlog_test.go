package cli

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/providers/nix"
)

// nixEvents are what a build of web's system reports: a shared
// dependency (the run's), web's system, a log line, the counts.
func nixEvents() []engine.Event {
	const dep, sys = "/nix/store/aaaa-glibc-2.38.drv", "/nix/store/bbbb-nixos-system-web-24.05.drv"
	ev := func(addr string, n nix.LogEvent) engine.Event {
		return engine.Event{Kind: engine.EventNix, Addr: addr, Nix: &n}
	}
	return []engine.Event{
		ev("", nix.LogEvent{Kind: nix.LogProgress, Expected: 2, Running: 0}),
		ev("", nix.LogEvent{Kind: nix.LogBuildStart, Drv: dep, Text: "building '" + dep + "'"}),
		ev("", nix.LogEvent{Kind: nix.LogProgress, Expected: 2, Running: 1}),
		ev("", nix.LogEvent{Kind: nix.LogBuildLine, Drv: dep, Text: "compiling"}),
		ev("", nix.LogEvent{Kind: nix.LogBuildDone, Drv: dep}),
		ev("", nix.LogEvent{Kind: nix.LogProgress, Done: 1, Expected: 2}),
		ev("machine.web", nix.LogEvent{Kind: nix.LogBuildStart, Drv: sys}),
		ev("", nix.LogEvent{Kind: nix.LogProgress, Done: 1, Expected: 2, Running: 1}),
		ev("", nix.LogEvent{Kind: nix.LogMessage, Level: nix.LevelInfo, Text: "these 2 derivations will be built:"}),
		ev("", nix.LogEvent{Kind: nix.LogMessage, Level: nix.LevelWarn, Text: "warning: careful"}),
		ev("machine.web", nix.LogEvent{Kind: nix.LogBuildFailed, Drv: sys, Text: "builder failed with exit code 1"}),
	}
}

// TestNixEventLines: in CI (no terminal), builds print plain lines with
// the count; -v adds Nix's full log.
func TestNixEventLines(t *testing.T) {
	for _, verbose := range []bool{false, true} {
		var out bytes.Buffer
		pr := &eventPrinter{w: &out, verbose: verbose}
		for _, ev := range nixEvents() {
			pr.event(ev)
		}
		want := []string{
			"build> building /nix/store/aaaa-glibc-2.38.drv (0/2 derivations built)",
			"web> building /nix/store/bbbb-nixos-system-web-24.05.drv (1/2 derivations built)",
			"build> warning: careful",
			"web> build of /nix/store/bbbb-nixos-system-web-24.05.drv failed: builder failed with exit code 1",
		}
		if verbose {
			want = []string{
				"build> building /nix/store/aaaa-glibc-2.38.drv (0/2 derivations built)",
				"build> glibc-2.38> compiling",
				"build> built /nix/store/aaaa-glibc-2.38.drv",
				"web> building /nix/store/bbbb-nixos-system-web-24.05.drv (1/2 derivations built)",
				"build> these 2 derivations will be built:",
				"build> warning: careful",
				"web> build of /nix/store/bbbb-nixos-system-web-24.05.drv failed: builder failed with exit code 1",
			}
		}
		if diff := cmp.Diff(want, strings.Split(strings.TrimSuffix(out.String(), "\n"), "\n")); diff != "" {
			t.Errorf("verbose=%v (-want +got):\n%s", verbose, diff)
		}
	}
}

// TestNixEventsLiveStatus: on a terminal the count is in the status line
// (not on every line), and a machine's step says what it builds.
func TestNixEventsLiveStatus(t *testing.T) {
	p := &plan.Plan{Machines: []*plan.Machine{{Addr: "machine.web", Name: "web", Action: plan.Deploy}}}
	var out bytes.Buffer
	pr := &eventPrinter{w: &out, live: newLiveStatus(p, 200)}
	pr.event(engine.Event{Kind: engine.EventStart, Addr: "machine.web", Action: plan.Deploy})
	evs := nixEvents()
	for _, ev := range evs[:8] {
		pr.event(ev)
	}
	if got, want := pr.live.line(), "[0/1 done, 1 running]  nix: 1/2 derivations built, 1 running  web: building nixos-system-web-24.05"; got != want {
		t.Errorf("status line = %q, want %q", got, want)
	}
	if s := out.String(); !strings.Contains(s, clearLine+"web> building /nix/store/bbbb-nixos-system-web-24.05.drv\n") {
		t.Errorf("no plain building line under the status line: %q", s)
	}
	pr.event(engine.Event{Kind: engine.EventDone, Addr: "machine.web", Action: plan.Deploy, Duration: time.Second})
	pr.finish()
}

// TestNixLogEndToEnd deploys two test hosts through the CLI, not on a
// terminal (as in CI), and reads what Nix did from ferry's output: each
// derivation's build under the machine that needs it (a shared one under
// "build>") with the count; then, with -v, a failing build's log lines as
// they come, and the failure with its last 20 lines and the command for
// the rest.
func TestNixLogEndToEnd(t *testing.T) {
	hosts, _, _ := startWebAndDB(t)
	dir := t.TempDir()
	setHostEnv(t, hosts, dir)
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	nonce := fmt.Sprint(time.Now().UnixNano()) // derivations never built before
	write("ferry.star", day2Config)
	// A package both machines need, one only web needs, and web's system
	// printing a log.
	shared := fmt.Sprintf(`(pkgs.mkFake { pname = "shared-%s"; version = "1"; })`, nonce)
	write("web.nix", fmt.Sprintf(`{ pkgs, ... }: {
  environment.systemPackages = [ %s (pkgs.mkFake { pname = "webonly-%s"; version = "1"; }) ];
  ferry.test.buildLogLines = 4;
}
`, shared, nonce))
	write("db.nix", fmt.Sprintf("{ pkgs, ... }: { environment.systemPackages = [ %s ]; }\n", shared))

	r := mustFerry(t, 0, dir, "", "apply", "--auto-approve")
	t.Logf("ferry apply:\n%s", r.stdout)
	count := `\(\d+/\d+ derivations built(, \d+ running)?\)`
	for _, want := range []string{
		`(?m)^build> building /nix/store/\w{32}-shared-` + nonce + `-1\.drv ` + count + `$`,
		`(?m)^web> building /nix/store/\w{32}-webonly-` + nonce + `-1\.drv ` + count + `$`,
		`(?m)^web> building /nix/store/\w{32}-nixos-system-web-24\.05\.ferrystub\.drv ` + count + `$`,
		`(?m)^db> building /nix/store/\w{32}-nixos-system-db-24\.05\.ferrystub\.drv ` + count + `$`,
	} {
		if !regexp.MustCompile(want).MatchString(r.stdout) {
			t.Errorf("apply's output does not match %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "build log line") || strings.Contains(r.stdout, "--add-root") || strings.Contains(r.stderr, "web> evaluating") {
		t.Errorf("without -v, build logs or evaluation steps are shown:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if strings.Count(r.stdout, "-shared-"+nonce) != 1 {
		t.Errorf("the shared build is not shown once:\n%s", r.stdout)
	}

	// A failing build, with -v.
	write("web.nix", fmt.Sprintf("{ ferry.test.buildLogLines = 30; ferry.test.failBuild = true; networking.domain = %q; }\n", nonce))
	r = mustFerry(t, 1, dir, "", "-v", "apply", "--auto-approve")
	t.Logf("ferry -v apply:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	sys := regexp.MustCompile(`/nix/store/\w{32}-nixos-system-web-24\.05\.ferrystub\.drv`).FindString(r.stdout)
	if sys == "" {
		t.Fatalf("no build of web's system in the output:\n%s", r.stdout)
	}
	for _, want := range []string{
		"web> building " + sys + " (",
		"web> nixos-system-web-24.05.ferrystub> ferry stub: build log line 1 of 30\n",
		"web> nixos-system-web-24.05.ferrystub> ferry stub: build log line 30 of 30\n",
		"web> build of " + sys + " failed: builder failed with exit code 1\n",
		"machine.web: deploy failed: build: build " + sys + ": builder failed with exit code 1\nlast 20 lines of the build log:\n" +
			"  ferry stub: build log line 13 of 30\n",
		"  ferry stub: build log line 30 of 30\n  building the system of web\n  ferry stub: build of web failed as requested by ferry.test.failBuild\n" +
			"(full log: nix-store -l " + sys + ")\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply -v's output lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "  ferry stub: build log line 12 of 30\n") {
		t.Errorf("the failure shows more than its last 20 lines:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, "web> evaluating\n") {
		t.Errorf("apply -v's planning does not show web's evaluation:\n%s", r.stderr)
	}
}
