package nix

import (
	"path/filepath"
	"testing"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// testNix runs the real Nix, offline, after checking it is installed.
func testNix(t testing.TB) Nix {
	t.Helper()
	nixtest.RequireNix(t)
	return Nix{Options: nixtest.Options()}
}

func fleetDir(t testing.TB) string {
	t.Helper()
	dir, err := filepath.Abs(filepath.Join("testdata", "fleet"))
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// fleet is three machines that refer to each other through nodes: the proxy
// forwards to the git server's Forgejo port, the git server mounts the
// storage machine's export, and every machine reads resources.dns.zone.
func fleet(t testing.TB) []Machine {
	dir := fleetDir(t)
	common := Module{Path: filepath.Join(dir, "common.nix")}
	return []Machine{
		{Name: "gitServer", Modules: []Module{common, {Path: filepath.Join(dir, "git.nix")}}},
		{Name: "reverse-proxy", Modules: []Module{
			common,
			{Path: filepath.Join(dir, "proxy.nix"), Args: map[string]any{"gitHost": "10.0.0.2"}},
		}},
		{Name: "storage", Modules: []Module{
			common,
			{Path: filepath.Join(dir, "storage.nix")},
			{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"},
		}},
	}
}

func fleetResources() map[string]any {
	return map[string]any{"dns": map[string]any{"zone": "example.com"}}
}
