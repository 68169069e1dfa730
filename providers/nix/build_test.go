package nix

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func TestBuildKeepsGoing(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	machines := []Machine{
		{Name: "good", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }"}}},
		{Name: "fails", Modules: []Module{{Inline: "{ ferry.test.failBuild = true; ferry.test.buildLogLines = 30; }"}}},
		{Name: "dependency", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.broken ]; }"}}},
	}
	evaluated, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: machines})
	if err != nil {
		t.Fatal(err)
	}
	var drvs []string
	for _, ev := range evaluated {
		drvs = append(drvs, ev.DrvPath)
	}
	var mu sync.Mutex // OnLog is called from the goroutine reading Nix's stderr
	var logs strings.Builder
	started := map[string]bool{}
	var last LogEvent
	results, err := n.Build(ctx, drvs, BuildOptions{Jobs: 2, OnLog: func(ev LogEvent) {
		mu.Lock()
		defer mu.Unlock()
		switch ev.Kind {
		case LogBuildLine:
			fmt.Fprintf(&logs, "%s> %s\n", ev.Drv, ev.Text)
		case LogBuildStart:
			started[ev.Drv] = true
		case LogProgress:
			last = ev
		}
	}})
	if err == nil || !strings.HasPrefix(err.Error(), "2 of 3 builds failed") {
		t.Errorf("want an error saying 2 of 3 builds failed, got %v", err)
	}
	if diff := cmp.Diff(sortedKeys(map[string]bool{drvs[0]: true, drvs[1]: true, drvs[2]: true}), sortedKeys(results)); diff != "" {
		t.Fatalf("results (-want +got):\n%s", diff)
	}

	good := results[evaluated["good"].DrvPath]
	if good.Err != nil || good.OutPath != evaluated["good"].OutPath {
		t.Errorf("good: %+v", good)
	}
	if _, err := os.Stat(good.OutPath + "/sw/bin/hello"); err != nil {
		t.Errorf("good system not built: %v", err)
	}

	type failure struct{ FailedDrv, Message, LogHas string }
	check := func(name string, want failure) {
		t.Helper()
		var be *BuildError
		if r := results[evaluated[name].DrvPath]; !errors.As(r.Err, &be) {
			t.Fatalf("%s: want a *BuildError, got %v", name, r.Err)
		}
		got := failure{FailedDrv: be.FailedDrv, Message: be.Message, LogHas: want.LogHas}
		if !strings.Contains(be.Log, want.LogHas) {
			got.LogHas = be.Log
		}
		if diff := cmp.Diff(want, got); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
		if !strings.Contains(be.Error(), "nix-store -l "+be.FailedDrv) {
			t.Errorf("%s: error does not say how to see the full log: %v", name, be)
		}
	}
	check("fails", failure{
		FailedDrv: evaluated["fails"].DrvPath,
		Message:   "builder failed with exit code 1",
		LogHas:    "ferry stub: build log line 13 of 30\nferry stub: build log line 14 of 30",
	})
	// The last 20 lines of the failed build, streamed: lines 13 to 30 and
	// the builder's own last two.
	var be *BuildError
	if errors.As(results[evaluated["fails"].DrvPath].Err, &be); strings.Count(be.Log, "\n") != 19 ||
		!strings.HasPrefix(be.Log, "ferry stub: build log line 13 of 30\n") ||
		!strings.HasSuffix(be.Log, "\nferry stub: build of fails failed as requested by ferry.test.failBuild") {
		t.Errorf("fails: want the last 20 lines of its log, got:\n%s", be.Log)
	}
	if !strings.Contains(be.Error(), "last 20 lines of the build log:\n  ferry stub: build log line 13 of 30\n") {
		t.Errorf("fails: the error does not show the last 20 lines:\n%v", be)
	}
	brokenDrv := ""
	closure, err := n.Closure(ctx, evaluated["dependency"].DrvPath)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range closure {
		if strings.HasSuffix(p, "-broken-1.0.drv") {
			brokenDrv = p
		}
	}
	check("dependency", failure{
		FailedDrv: brokenDrv,
		Message:   "builder failed with exit code 2",
		LogHas:    "ferry stub: broken-1.0 always fails to build",
	})
	// Failed builds are never cached, so their logs always stream, as
	// events naming the derivation.
	mu.Lock()
	if !strings.Contains(logs.String(), evaluated["fails"].DrvPath+"> ferry stub: build log line 2 of 30\n") {
		t.Errorf("build logs were not streamed to OnLog:\n%s", logs.String())
	}
	if !started[evaluated["fails"].DrvPath] || !started[brokenDrv] {
		t.Errorf("no build start for the failing builds: %v", started)
	}
	if last.Failed != 2 || last.Running != 0 {
		t.Errorf("last count of derivations: %+v, want 2 failed, none running", last)
	}
	mu.Unlock()

	// Built again, the good system is already there and the failures stay.
	again, err := n.Build(ctx, []string{evaluated["good"].DrvPath, evaluated["good"].DrvPath}, BuildOptions{})
	if err != nil || len(again) != 1 || again[evaluated["good"].DrvPath].OutPath != good.OutPath {
		t.Errorf("rebuild of a built system: %+v, %v", again, err)
	}
}

func TestBuildRefusesNonDerivations(t *testing.T) {
	n := testNix(t)
	for _, p := range []string{"/nix/store/aaaa-hello-2.12", "/nix/store/00000000000000000000000000000000-gone.drv"} {
		if _, err := n.Build(context.Background(), []string{p}, BuildOptions{}); err == nil {
			t.Errorf("Build(%s): want an error", p)
		}
	}
}
