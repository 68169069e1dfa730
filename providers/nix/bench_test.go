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
			compareWithRaw(b, func() {
				got, err := n.Evaluate(ctx, opts)
				if err != nil || len(got) != size {
					b.Fatalf("evaluated %d of %d: %v", len(got), size, err)
				}
			}, raw)
		})
	}
}

// compareWithRaw runs ours and raw in turn in every iteration, in
// alternating order (so that neither always runs on a warmer machine),
// after one warm-up run of each (the first writes the derivations), and
// reports the medians ferry-ms and raw-ms and the median of the
// per-iteration ratios ours/raw.
func compareWithRaw(b *testing.B, ours, raw func()) {
	ours()
	raw()
	var o, r []time.Duration
	var ratios []float64
	i := 0
	for b.Loop() {
		var od, rd time.Duration
		for _, first := range []bool{i%2 == 0, i%2 != 0} {
			start := time.Now()
			if first {
				ours()
				od = time.Since(start)
			} else {
				raw()
				rd = time.Since(start)
			}
		}
		i++
		o, r = append(o, od), append(r, rd)
		ratios = append(ratios, float64(od)/float64(rd))
	}
	b.ReportMetric(float64(median(o).Microseconds())/1000, "ferry-ms")
	b.ReportMetric(float64(median(r).Microseconds())/1000, "raw-ms")
	slices.Sort(ratios)
	b.ReportMetric(ratios[len(ratios)/2], "ratio")
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// benchFlake writes and locks a flake with size nixosConfigurations shaped
// like benchFleet's machines (a module with a nodes-free proxy, packages),
// and returns its folder and machines.
func benchFlake(b *testing.B, size int) (string, []Machine) {
	src := filepath.Join(b.TempDir(), "flake")
	if err := os.MkdirAll(src, 0o755); err != nil {
		b.Fatal(err)
	}
	if err := os.CopyFS(src, os.DirFS(fleetDir(b))); err != nil {
		b.Fatal(err)
	}
	text := `{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";
  outputs = { self, nixpkgs }: {
    nixosConfigurations = builtins.listToAttrs (builtins.genList (i: {
      name = "m${toString (1000 + i)}";
      value = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        specialArgs = { index = i; resources = { dns.zone = "example.com"; }; };
        modules = [ ./common.nix ./storage.nix ({ pkgs, ... }: {
          environment.systemPackages = [ pkgs.hello ];
          services.nginx.enable = true;
          services.nginx.virtualHosts.app.locations."/".proxyPass = "http://m${toString (1000 + i)}:8080";
        }) ];
      };
    }) ` + fmt.Sprint(size) + `);
  };
}
`
	if err := os.WriteFile(filepath.Join(src, "flake.nix"), []byte(text), 0o644); err != nil {
		b.Fatal(err)
	}
	dir := nixtest.LockFlake(b, src)
	machines := make([]Machine, size)
	for i := range machines {
		name := fmt.Sprintf("m%d", 1000+i)
		machines[i] = Machine{Name: name, Flake: &Flake{Dir: dir, Attr: name}}
	}
	return dir, machines
}

// BenchmarkEvaluateFlake compares Evaluate of machines from a flake with
// the lower bound: one raw `nix eval` of the same nixosConfigurations'
// toplevel .drv paths (which writes them to the store, as Evaluate does).
// Metrics as in BenchmarkEvaluate (target: ratio ≤ 1.2).
//
//	go test -run '^$' -bench EvaluateFlake -benchtime 10x ./providers/nix
func BenchmarkEvaluateFlake(b *testing.B) {
	n := testNix(b)
	ctx := context.Background()
	for _, size := range []int{1, 10, 50} {
		b.Run(fmt.Sprintf("machines=%d", size), func(b *testing.B) {
			dir, machines := benchFlake(b, size)
			opts := EvalOptions{Machines: machines, Resources: fleetResources()}
			raw := func() {
				args := append([]string{"eval", "--json"}, flakeFeatures...)
				for k, v := range n.Options {
					args = append(args, "--option", k, v)
				}
				args = append(args, flakeURL(dir)+"#nixosConfigurations", "--apply",
					"builtins.mapAttrs (name: c: c.config.system.build.toplevel.drvPath)")
				if out, err := exec.Command("nix", args...).CombinedOutput(); err != nil {
					b.Fatalf("%v\n%s", err, out)
				}
			}
			compareWithRaw(b, func() {
				got, err := n.Evaluate(ctx, opts)
				if err != nil || len(got) != size {
					b.Fatalf("evaluated %d of %d: %v", len(got), size, err)
				}
			}, raw)
		})
	}
}
