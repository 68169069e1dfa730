package examples

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// TestExamples loads and plans every example against empty state: machines
// are really evaluated by Nix against the stub nixpkgs (hosts are not
// contacted: the plan does not read current systems).
func TestExamples(t *testing.T) {
	nixtest.RequireNix(t)
	t.Setenv("NIX_PATH", "nixpkgs="+nixtest.NixpkgsPath())
	entries, err := os.ReadDir(".")
	if err != nil {
		t.Fatal(err)
	}
	found := 0
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir, _ := filepath.Abs(e.Name())
		if _, err := os.Stat(filepath.Join(dir, "ferry.star")); err != nil {
			continue
		}
		found++
		t.Run(e.Name(), func(t *testing.T) {
			reg, err := cli.NewRegistry(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := lang.Load(context.Background(), lang.Options{Dir: dir, Schemas: reg.Schemas(), EvalNix: evalNix})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(cfg.Resources)+len(cfg.Machines) == 0 {
				t.Fatal("example declares no resources and no machines")
			}
			eng := &engine.Engine{Providers: reg, Version: "test", Nix: nix.Nix{Options: nixtest.Options()}}
			p, err := eng.BuildPlan(context.Background(), cfg, state.New("x"), engine.PlanOptions{Deployment: "x", Parallelism: 1, NoRefresh: true})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if got := p.Count().Add; got != len(cfg.Resources) {
				t.Errorf("plan adds %d resources, config declares %d", got, len(cfg.Resources))
			}
			if got := p.Count().Deploy; got != len(cfg.Machines) {
				t.Errorf("plan deploys %d machines, config declares %d", got, len(cfg.Machines))
			}
			for _, m := range p.Machines {
				if !strings.HasSuffix(m.Drv, ".drv") || !strings.HasPrefix(m.Path, "/nix/store/") {
					t.Errorf("%s: not pinned to a derivation and output: %q %q", m.Addr, m.Drv, m.Path)
				}
			}
			if _, err := plan.Encode(p); err != nil {
				t.Fatal(err)
			}
		})
	}
	if found == 0 {
		t.Fatal("no examples found")
	}
}

// evalNix is lang's load-time Nix (nixops.network, colmena.hive) on the
// stub nixpkgs of NIX_PATH.
func evalNix(expr string) ([]byte, error) {
	return nix.Nix{Options: nixtest.Options()}.EvalJSON(context.Background(), expr)
}
