package nix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func testFlake(t testing.TB) string {
	t.Helper()
	src, err := filepath.Abs(filepath.Join("testdata", "flake"))
	if err != nil {
		t.Fatal(err)
	}
	return nixtest.LockFlake(t, src)
}

// Machines from a flake are its nixosConfigurations extended with ferry's
// modules and the machine's own; nodes reaches across flake machines and
// machines from nixpkgs (here the flake's own nixpkgs input), all in one
// nix-instantiate pass.
func TestEvaluateFlake(t *testing.T) {
	n := testNix(t)
	flake := testFlake(t)
	passes := 0
	got, err := n.Evaluate(context.Background(), EvalOptions{
		NixpkgsFlake: FlakeInput{Dir: flake, Input: "nixpkgs"},
		Machines: []Machine{
			{Name: "web", Flake: &Flake{Dir: flake, Attr: "web"}, Modules: []Module{
				{Inline: `{ resources, ... }: { networking.domain = resources.zone; }`},
			}},
			{Name: "db", Flake: &Flake{Dir: flake, Attr: "db"}},
			{Name: "cache", Modules: []Module{
				{Inline: `{ nodes, ... }: { services.nginx.enable = true; services.nginx.virtualHosts.c.locations."/".proxyPass = "http://${nodes.web.config.networking.hostName}"; }`},
			}},
		},
		Resources: map[string]any{"zone": "example.org"},
		OnPass:    func(EvalPass) { passes++ },
	})
	if err != nil {
		t.Fatal(err)
	}
	if passes != 1 {
		t.Errorf("%d nix-instantiate passes, want 1", passes)
	}
	var drvs []string
	for _, ev := range got {
		drvs = append(drvs, ev.DrvPath)
	}
	if _, err := n.Build(context.Background(), drvs, BuildOptions{}); err != nil {
		t.Fatal(err)
	}
	web, db, cache := readSystemConfig(t, got["web"].OutPath), readSystemConfig(t, got["db"].OutPath), readSystemConfig(t, got["cache"].OutPath)
	type summary struct{ HostName, Domain, ProxyPass string }
	gotSummary := []summary{
		{web.HostName, web.Domain, web.Services.Nginx.VirtualHosts["app"].Locations["/"].ProxyPass},
		{db.HostName, db.Domain, strings.Join(db.SystemPackages, " ")},
		{cache.HostName, cache.Domain, cache.Services.Nginx.VirtualHosts["c"].Locations["/"].ProxyPass},
	}
	want := []summary{
		{"web", "example.org", "http://db:5432"},
		{"db", "", "coreutils-9.4 bash-5.2 postgresql-15.5"},
		{"cache", "", "http://web"},
	}
	if diff := cmp.Diff(want, gotSummary); diff != "" {
		t.Errorf("systems (-want +got):\n%s", diff)
	}
}

func TestEvaluateFlakeErrors(t *testing.T) {
	n := testNix(t)
	flake := testFlake(t)
	unlocked := filepath.Join(t.TempDir(), "unlocked")
	if err := os.CopyFS(unlocked, os.DirFS(filepath.Join("testdata", "flake"))); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name    string
		machine Machine
		want    []string
	}{
		{"no such configuration", Machine{Name: "api", Flake: &Flake{Dir: flake, Attr: "api"}},
			[]string{"evaluate machine api:", "has no nixosConfigurations.api; it has: broken, db, web"}},
		{"does not evaluate", Machine{Name: "broken", Flake: &Flake{Dir: flake, Attr: "broken"}},
			[]string{"evaluate machine broken:", "ferry.test.failEval"}},
		{"needs the network", Machine{Name: "web", Flake: &Flake{Dir: unlocked, Attr: "web"}},
			[]string{"unable to download", "a flake input needs the network", "path: inputs", "nix flake archive"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := n.Evaluate(context.Background(), EvalOptions{Machines: []Machine{tc.machine}})
			if err == nil {
				t.Fatal("evaluated")
			}
			for _, w := range tc.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q:\n%v", w, err)
				}
			}
			var me *MachineError
			if !errors.As(err, &me) || me.Machine != tc.machine.Name {
				t.Errorf("not an error of machine %s: %v", tc.machine.Name, err)
			}
		})
	}
}

func TestFlakeInputPin(t *testing.T) {
	flake := testFlake(t)
	pin, err := FlakeInputPin(FlakeInput{Dir: flake, Input: "nixpkgs"})
	if err != nil || !strings.HasPrefix(pin, "sha256-") {
		t.Fatalf("pin %q, %v", pin, err)
	}
	if _, err := FlakeInputPin(FlakeInput{Dir: flake, Input: "nixos"}); err == nil || !strings.Contains(err.Error(), `no input "nixos" (it has: nixpkgs)`) {
		t.Errorf("unknown input: %v", err)
	}
	if _, err := FlakeInputPin(FlakeInput{Dir: t.TempDir(), Input: "nixpkgs"}); err == nil || !strings.Contains(err.Error(), "run `nix flake lock`") {
		t.Errorf("no lock: %v", err)
	}
}
