package nix

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// benchFleet is size machines shaped like a real deployment: shared
// defaults, a module with args, and a nodes reference to the next machine.
func benchFleet(b *testing.B, size int) []Machine {
	dir := fleetDir(b)
	machines := make([]Machine, size)
	for i := range machines {
		next := fmt.Sprintf("m%03d", (i+1)%size)
		machines[i] = Machine{
			Name: fmt.Sprintf("m%03d", i),
			Modules: []Module{
				{Path: filepath.Join(dir, "common.nix")},
				{Path: filepath.Join(dir, "storage.nix")},
				{Inline: `{ nodes, pkgs, ... }: {
  environment.systemPackages = [ pkgs.hello ];
  services.nginx.enable = true;
  services.nginx.virtualHosts.app.locations."/".proxyPass = "http://${nodes.` + next + `.config.networking.hostName}:8080";
}`},
			},
			Args: map[string]any{"index": i},
		}
	}
	return machines
}

// BenchmarkEvaluate compares Evaluate with the lower bound: one plain
// nix-instantiate of the same expression file. Both run in turn in every
// iteration, in alternating order; ferry-ms and raw-ms are medians, ratio
// is the median of the per-iteration ratios ferry/raw (target ≤ 1.2).
//
//	go test -run '^$' -bench Evaluate -benchtime 10x ./providers/nix
func BenchmarkEvaluate(b *testing.B) {
	n := testNix(b)
	ctx := context.Background()
	for _, size := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("machines=%d", size), func(b *testing.B) {
			opts := EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: benchFleet(b, size), Resources: fleetResources()}
			file := filepath.Join(b.TempDir(), "deployment.nix")
			if err := os.WriteFile(file, []byte(Expression(opts.Nixpkgs, opts.Machines, opts.Resources)), 0o644); err != nil {
				b.Fatal(err)
			}
			raw := func() {
				args := []string{"--eval", "--strict", "--json", "--read-write-mode"}
				for k, v := range n.Options {
					args = append(args, "--option", k, v)
				}
				if out, err := exec.Command("nix-instantiate", append(args, file)...).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
			// Warm up: the first run writes the derivations to the store.
			if _, err := n.Evaluate(ctx, opts); err != nil {
				b.Fatal(err)
			}
			raw()
			var ours, theirs []time.Duration
			var ratios []float64
			i := 0
			for b.Loop() {
				// Alternate which runs first, so that neither always runs
				// on a warmer machine.
				var o, r time.Duration
				for _, first := range []bool{i%2 == 0, i%2 != 0} {
					start := time.Now()
					if first {
						got, err := n.Evaluate(ctx, opts)
						if err != nil || len(got) != size {
							b.Fatalf("evaluated %d of %d: %v", len(got), size, err)
						}
						o = time.Since(start)
					} else {
						raw()
						r = time.Since(start)
					}
				}
				i++
				ours, theirs = append(ours, o), append(theirs, r)
				ratios = append(ratios, float64(o)/float64(r))
			}
			b.ReportMetric(float64(median(ours).Microseconds())/1000, "ferry-ms")
			b.ReportMetric(float64(median(theirs).Microseconds())/1000, "raw-ms")
			slices.Sort(ratios)
			b.ReportMetric(ratios[len(ratios)/2], "ratio")
		})
	}
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}
