package nix

import (
	"bytes"
	"context"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func TestBuildKeepsGoing(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	machines := []Machine{
		{Name: "good", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }"}}},
		{Name: "fails", Modules: []Module{{Inline: "{ ferry.test.failBuild = true; }"}}},
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
	var logs bytes.Buffer
	results, err := n.Build(ctx, drvs, BuildOptions{Jobs: 2, Stderr: &logs})
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
		LogHas:    "ferry stub: build of fails failed as requested by ferry.test.failBuild",
	})
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
	// Failed builds are never cached, so their logs always stream.
	if !strings.Contains(logs.String(), "ferry stub: build of fails failed") {
		t.Errorf("build logs were not streamed to Stderr:\n%s", logs.String())
	}

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
