package nixtest

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"testing"
)

// NixpkgsPath returns the absolute path of the stub nixpkgs, found from this
// source file, so it works from any package's tests and from `go run` in
// the source tree (not from an installed binary).
func NixpkgsPath() string {
	_, file, _, ok := runtime.Caller(0)
	if !ok {
		panic("nixtest: cannot locate its own source file")
	}
	return filepath.Join(filepath.Dir(file), "..", "testdata", "nixpkgs")
}

// Options are the --option settings tests pass to Nix: no binary cache (there
// is no network) and no sandbox (Debian's Nix runs without one).
func Options() map[string]string {
	return map[string]string{"substituters": "", "sandbox": "false"}
}

// RequireNix fails the test (never skips it) when Nix's tools are missing.
func RequireNix(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"nix-instantiate", "nix-store", "nix-build"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s not found (%v): install Nix: apt-get install -y nix-bin", tool, err)
		}
	}
}
