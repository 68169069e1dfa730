package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// TestFlakeExample plans examples/flake (two machines from a flake.nix
// whose nixpkgs input is locked to the stub nixpkgs) and applies the plan
// to two test hosts: each runs its flake configuration extended with its
// ferry modules, and web's reference to db through nodes holds. A changed
// flake.lock makes apply refuse a plan made before.
func TestFlakeExample(t *testing.T) {
	hosts := startTestHosts(t, "web", "db")
	src, err := filepath.Abs(filepath.Join("..", "..", "..", "examples", "flake"))
	if err != nil {
		t.Fatal(err)
	}
	dir := nixtest.LockFlake(t, src)
	setHostEnv(t, hosts, dir)
	t.Setenv("NIX_PATH", "") // the flake alone says what nixpkgs is

	planFile := filepath.Join(dir, "plan.json")
	mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	mustFerry(t, 0, dir, "", "apply", planFile)

	type config struct {
		HostName, Domain string
		SystemPackages   []string
		Services         struct {
			Nginx struct {
				VirtualHosts map[string]struct {
					Locations map[string]struct{ ProxyPass string }
				}
			}
		}
	}
	got := map[string]config{}
	for _, name := range []string{"web", "db"} {
		h, _ := hosts.Host(name)
		sys, err := h.CurrentSystem()
		if err != nil || sys == "" {
			t.Fatalf("%s runs no system (%v)", name, err)
		}
		data, err := os.ReadFile(h.StorePath(filepath.Join(sys, "etc", "ferry-config.json")))
		if err != nil {
			t.Fatal(err)
		}
		var c config
		if err := json.Unmarshal(data, &c); err != nil {
			t.Fatal(err)
		}
		got[name] = c
	}
	web, db := got["web"], got["db"]
	if web.HostName != "web" || web.Domain != "example.org" || db.HostName != "db" || db.Domain != "" {
		t.Errorf("host names and domains: web %q %q, db %q %q", web.HostName, web.Domain, db.HostName, db.Domain)
	}
	if p := web.Services.Nginx.VirtualHosts["app"].Locations["/"].ProxyPass; p != "http://db:5432" {
		t.Errorf("web proxies to %q, want http://db:5432 (from nodes.db)", p)
	}
	if diff := cmp.Diff([]string{"coreutils-9.4", "bash-5.2", "postgresql-15.5"}, db.SystemPackages); diff != "" {
		t.Errorf("db packages (-want +got):\n%s", diff)
	}

	// A plan made before the lock changed is refused.
	mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	lock := filepath.Join(dir, "flake.lock")
	data, err := os.ReadFile(lock)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(lock, append(data, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	r := mustFerry(t, 1, dir, "", "apply", planFile)
	if !strings.Contains(r.stderr, "flake.lock changed since the plan was made") {
		t.Errorf("apply of a plan made before the lock changed:\n%s", r.stderr)
	}
}
