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
	"github.com/nixferry/ferry/providers/aws/awstest"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
)

// exampleVars are the vars an example needs from its user.
var exampleVars = map[string]map[string]string{
	"aws-webserver": {"ssh_public_key": "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAICR5lleMX8CG6QpZ1iqfVyfOafTB+KuLwdaEbUN6HsPn you@laptop"},
}

// TestExamples loads and plans every example against empty state: machines
// are really evaluated by Nix against the stub nixpkgs (hosts are not
// contacted: the plan does not read current systems). An example with a
// flake.nix is planned from a copy locked to the stub nixpkgs.
func TestExamples(t *testing.T) {
	nixtest.RequireNix(t)
	t.Setenv("NIX_PATH", "nixpkgs="+nixtest.NixpkgsPath())
	// The examples on AWS are planned with their defaults against moto:
	// the SDK's AWS_ENDPOINT_URL points every client at it.
	env := awstest.New(t)
	t.Setenv("AWS_ENDPOINT_URL", env.URL)
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
			if _, err := os.Stat(filepath.Join(dir, "flake.nix")); err == nil {
				// A flake: planned from a copy whose nixpkgs input is
				// locked to the stub nixpkgs (path:, offline).
				dir = nixtest.LockFlake(t, dir)
			}
			vars, eng := exampleVars[e.Name()], &engine.Engine{Version: "test", Nix: nix.Nix{Options: nixtest.Options()}}
			opts := engine.PlanOptions{Deployment: "x", Parallelism: 1, NoRefresh: true}
			if e.Name() == "install-any-host" {
				// An install's plan reads its hosts' facts over SSH, and
				// the fleet cache is checked: rescue test hosts with loop
				// disks and a cache in a folder.
				bed := newInstallBed(t)
				vars, eng.SSH, opts.NoRefresh = bed.vars, remote.NewDialer(bed.fleet.DialerOptions()), false
			}
			reg, err := cli.NewRegistry(dir)
			if err != nil {
				t.Fatal(err)
			}
			cfg, err := lang.Load(context.Background(), lang.Options{Dir: dir, Vars: vars, Schemas: reg.Schemas(), Providers: cli.LangProviders(reg), EvalNix: evalNix})
			if err != nil {
				t.Fatalf("load: %v", err)
			}
			if len(cfg.Resources)+len(cfg.Machines) == 0 {
				t.Fatal("example declares no resources and no machines")
			}
			eng.Providers = reg
			p, err := eng.BuildPlan(context.Background(), cfg, state.New("x"), opts)
			if err != nil {
				t.Fatalf("plan: %v", err)
			}
			if got := p.Count().Add; got != len(cfg.Resources) {
				t.Errorf("plan adds %d resources, config declares %d", got, len(cfg.Resources))
			}
			if c := p.Count(); c.Deploy+c.Install != len(cfg.Machines) {
				t.Errorf("plan deploys %d and installs %d machines, config declares %d", c.Deploy, c.Install, len(cfg.Machines))
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
