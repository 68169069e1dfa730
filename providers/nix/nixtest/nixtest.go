package nixtest

import (
	"io/fs"
	"os"
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

// PrivateStore returns the environment of a new, empty Nix store in a
// temporary folder of the test (NIX_STORE_DIR, NIX_STATE_DIR and
// NIX_LOG_DIR), for Nix.Env. Tests that collect garbage use it: a
// collection there removes nothing that another test, or a person, on
// this machine relies on; the system /nix/store is never collected by a
// test. Its store paths have other hashes than /nix/store's, so they
// cannot be copied to test hosts. The store is removed with the test's
// temporary folders.
func PrivateStore(t testing.TB) []string {
	t.Helper()
	dir := t.TempDir()
	// Builders run as Nix's build users: they must reach the store.
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Nix makes store paths read-only; make them writable again before
	// TempDir's cleanup removes the folder (cleanups run last first).
	t.Cleanup(func() {
		_ = filepath.WalkDir(dir, func(p string, de fs.DirEntry, err error) error {
			if err == nil && de.IsDir() {
				_ = os.Chmod(p, 0o755)
			}
			return nil
		})
	})
	return []string{
		"NIX_STORE_DIR=" + filepath.Join(dir, "store"),
		"NIX_STATE_DIR=" + filepath.Join(dir, "var"),
		"NIX_LOG_DIR=" + filepath.Join(dir, "log"),
	}
}

// LockFlake copies the flake in the folder src into a new temporary folder
// of the test (outside any git work tree, so nothing is hidden from Nix)
// and locks it with its nixpkgs input overridden to path: the stub
// nixpkgs, offline: flake.nix may name github:NixOS/nixpkgs, as a real one
// does. It returns the copy's path.
func LockFlake(t testing.TB, src string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), filepath.Base(src))
	if err := os.CopyFS(dir, os.DirFS(src)); err != nil {
		t.Fatal(err)
	}
	_ = os.Remove(filepath.Join(dir, "flake.lock"))
	args := []string{"--extra-experimental-features", "nix-command flakes", "flake", "lock",
		"--override-input", "nixpkgs", "path:" + NixpkgsPath()}
	for k, v := range Options() {
		args = append(args, "--option", k, v)
	}
	cmd := exec.Command("nix", args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("lock flake %s: %v\n%s", dir, err, out)
	}
	return dir
}
