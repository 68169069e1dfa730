package lang

import (
	"context"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestBuildLocations loads every way of saying where a system is built:
// the deployment's default (defaults(build_host = ...)) applies to the
// machines that chose nothing, a machine's own choice wins, a build host
// may be another machine, and a system given by store path gets neither
// the default modules nor a build location.
func TestBuildLocations(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": `
b1 = ssh(host = "10.0.0.9", host_key = "` + testHostKey + `")
builder = machine("builder", ssh(host = "10.0.0.8"), modules = [nix.inline("{ }")])
defaults(modules = [nix.inline("{ }")], build_host = b1)
machine("a", ssh(host = "a"))
machine("b", ssh(host = "b"), build = "local")
machine("c", ssh(host = "c"), build_on_target = True)
machine("d", ssh(host = "d"), build = "target")
machine("e", ssh(host = "e"), build_host = builder)
machine("f", ssh(host = "f"), store_path = "/nix/store/0c2qy2pvlqlwxg7mnjnnqbqkpj1qkgw5-nixos-system-f-24.05")
`})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	type where struct {
		OnTarget  bool
		Host      string
		StorePath string
		Modules   int
	}
	got := map[string]where{}
	for _, m := range cfg.Machines {
		w := where{OnTarget: m.BuildOnTarget, StorePath: m.StorePath, Modules: len(m.Modules)}
		if m.BuildHost != nil {
			w.Host = m.BuildHost.Name + " " + m.BuildHost.Target.Host
			if m.BuildHost.Name == "10.0.0.9" && m.BuildHost.Target.HostKey != testHostKey {
				t.Errorf("%s: build host key %q, want the configured one", m.Name, m.BuildHost.Target.HostKey)
			}
		}
		got[m.Name] = w
	}
	want := map[string]where{
		"builder": {Host: "10.0.0.9 10.0.0.9", Modules: 2},
		"a":       {Host: "10.0.0.9 10.0.0.9", Modules: 1},
		"b":       {Modules: 1},
		"c":       {OnTarget: true, Modules: 1},
		"d":       {OnTarget: true, Modules: 1},
		"e":       {Host: "builder 10.0.0.8", Modules: 1},
		"f":       {StorePath: "/nix/store/0c2qy2pvlqlwxg7mnjnnqbqkpj1qkgw5-nixos-system-f-24.05"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build locations (-want +got):\n%s", diff)
	}
}
