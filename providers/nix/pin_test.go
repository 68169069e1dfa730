package nix

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// copyNixpkgs copies the stub nixpkgs to a new folder of the test.
func copyNixpkgs(t testing.TB) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "nixpkgs")
	if err := os.CopyFS(dir, os.DirFS(nixtest.NixpkgsPath())); err != nil {
		t.Fatal(err)
	}
	return dir
}

func pin(t *testing.T, n Nix, path string) string {
	t.Helper()
	got, err := n.NixpkgsPin(context.Background(), path)
	if err != nil {
		t.Fatalf("NixpkgsPin(%q): %v", path, err)
	}
	return got
}

func TestNixpkgsPinFolder(t *testing.T) {
	n := testNix(t)
	dir := copyNixpkgs(t)
	base := pin(t, n, dir)
	if !strings.HasPrefix(base, "sha256:") || len(base) != len("sha256:")+64 {
		t.Fatalf("pin of a folder = %q, want sha256:<hex>", base)
	}
	if got := pin(t, n, nixtest.NixpkgsPath()); got != base {
		t.Errorf("the same content elsewhere pins %s, want %s", got, base)
	}
	link := filepath.Join(t.TempDir(), "link")
	if err := os.Symlink(dir, link); err != nil {
		t.Fatal(err)
	}
	if got := pin(t, n, link); got != base {
		t.Errorf("through a symlink: %s, want %s", got, base)
	}
	fromPath := n
	fromPath.Env = append(fromPath.Env, "NIX_PATH=nixpkgs="+link)
	if got := pin(t, fromPath, ""); got != base {
		t.Errorf("<nixpkgs> from NIX_PATH: %s, want %s", got, base)
	}

	// What is left out: .git and build result links.
	if err := os.MkdirAll(filepath.Join(dir, ".git", "objects"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, ".git", "HEAD"), []byte("ref: refs/heads/main\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink("/nix/store/00000000000000000000000000000000-result", filepath.Join(dir, "result")); err != nil {
		t.Fatal(err)
	}
	if got := pin(t, n, dir); got != base {
		t.Errorf("after adding .git and a result link: %s, want %s", got, base)
	}

	// What changes it.
	pins := map[string]string{base: "the original"}
	change := func(what string, do func() error) {
		t.Helper()
		if err := do(); err != nil {
			t.Fatal(err)
		}
		got := pin(t, n, dir)
		if prev, seen := pins[got]; seen {
			t.Errorf("%s: the pin %s is the same as after %s", what, got, prev)
		}
		pins[got] = what
	}
	file := filepath.Join(dir, "lib", "default.nix")
	change("an edit", func() error {
		b, err := os.ReadFile(file)
		if err != nil {
			return err
		}
		return os.WriteFile(file, append(b, "\n# edited\n"...), 0o644)
	})
	change("a new file", func() error { return os.WriteFile(filepath.Join(dir, "pkgs", "new.nix"), []byte("{}"), 0o644) })
	change("a mode", func() error { return os.Chmod(filepath.Join(dir, "pkgs", "new.nix"), 0o755) })
	change("a rename", func() error {
		return os.Rename(filepath.Join(dir, "pkgs", "new.nix"), filepath.Join(dir, "pkgs", "renamed.nix"))
	})
	change("a source symlink", func() error { return os.Symlink("renamed.nix", filepath.Join(dir, "pkgs", "alias.nix")) })
}

func TestNixpkgsPinStore(t *testing.T) {
	n := privateNix(t)
	ctx := context.Background()
	dir := copyNixpkgs(t)
	res, err := n.run(ctx, nil, "nix-instantiate", "--eval", "--read-write-mode", "--json", "--expr",
		fmt.Sprintf(`builtins.path { path = %s; name = "nixpkgs"; }`, nixPath(dir)))
	if err != nil {
		t.Fatal(err)
	}
	storePath := strings.Trim(strings.TrimSpace(string(res.stdout)), `"`)
	if got := pin(t, n, storePath); got != storePath {
		t.Errorf("pin of a store path = %s, want the path", got)
	}
	// A channel: links into the store.
	channel := filepath.Join(t.TempDir(), "channels")
	if err := os.Symlink(storePath, channel); err != nil {
		t.Fatal(err)
	}
	fromPath := n
	fromPath.Env = append(fromPath.Env, "NIX_PATH=nixpkgs="+channel)
	if got := pin(t, fromPath, ""); got != storePath {
		t.Errorf("<nixpkgs> through a channel link = %s, want %s", got, storePath)
	}
	if got := pin(t, n, filepath.Join(channel, "lib")); got != storePath+"/lib" {
		t.Errorf("a folder inside a store path = %s, want %s/lib", got, storePath)
	}
}

func TestNixpkgsPinErrors(t *testing.T) {
	n := testNix(t)
	n.Env = append(n.Env, "NIX_PATH=")
	if _, err := n.NixpkgsPin(context.Background(), ""); err == nil || !strings.Contains(err.Error(), "NIX_PATH") {
		t.Errorf("without <nixpkgs>: want an error saying how to set it, got %v", err)
	}
	if _, err := n.NixpkgsPin(context.Background(), filepath.Join(t.TempDir(), "gone")); err == nil {
		t.Error("a missing folder was pinned")
	}
	if _, err := n.NixpkgsPin(context.Background(), "relative"); err == nil {
		t.Error("a relative path was pinned")
	}
}

// BenchmarkNixpkgsPinTree digests a folder shaped like a nixpkgs checkout
// (40,000 files of 5 KiB in 2,000 folders), as plan and apply do for a
// nixpkgs outside the store.
func BenchmarkNixpkgsPinTree(b *testing.B) {
	root := b.TempDir()
	content := []byte(strings.Repeat("{ lib, stdenv, fetchurl }: stdenv.mkDerivation { }\n", 100))
	for d := range 2000 {
		dir := filepath.Join(root, "pkgs", fmt.Sprintf("d%02d", d%50), fmt.Sprintf("p%04d", d))
		if err := os.MkdirAll(dir, 0o755); err != nil {
			b.Fatal(err)
		}
		for f := range 20 {
			if err := os.WriteFile(filepath.Join(dir, fmt.Sprintf("f%02d.nix", f)), append(content, byte(f)), 0o644); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ResetTimer()
	for range b.N {
		if _, err := treeDigest(context.Background(), root, "/nix/store"); err != nil {
			b.Fatal(err)
		}
	}
}
