package examples

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/lang"
)

// TestExamples loads and plans every example against empty state.
func TestExamples(t *testing.T) {
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
			cfg, err := lang.Load(context.Background(), lang.Options{Dir: dir, Schemas: reg.Schemas()})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(cfg.Resources) == 0 {
				t.Fatal("example declares no resources")
			}
			eng := &engine.Engine{Providers: reg, Version: "test"}
			p, err := eng.BuildPlan(context.Background(), cfg, state.New("x"), engine.PlanOptions{Deployment: "x", Parallelism: 1})
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if got := p.Count().Add; got != len(cfg.Resources) {
				t.Errorf("plan adds %d resources, config declares %d", got, len(cfg.Resources))
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
