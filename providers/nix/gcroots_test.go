package nix

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// privateNix runs the real Nix on a store of the test's own, where
// garbage may be collected.
func privateNix(t testing.TB) Nix {
	t.Helper()
	n := testNix(t)
	n.Env = nixtest.PrivateStore(t)
	return n
}

// collectGarbage runs a real nix-store --gc on n's store.
func collectGarbage(t *testing.T, n Nix) {
	t.Helper()
	if !slices.ContainsFunc(n.Env, func(e string) bool { return strings.HasPrefix(e, "NIX_STORE_DIR=") }) {
		t.Fatal("refusing to collect garbage in a store the test does not own")
	}
	if _, err := n.run(context.Background(), nil, "nix-store", "--gc"); err != nil {
		t.Fatalf("nix-store --gc: %v", err)
	}
}

func evaluateDrvs(t *testing.T, n Nix, machines []Machine) []string {
	t.Helper()
	evaluated, err := n.Evaluate(context.Background(), EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: machines})
	if err != nil {
		t.Fatal(err)
	}
	var drvs []string
	for _, ev := range evaluated {
		drvs = append(drvs, ev.DrvPath)
	}
	slices.Sort(drvs)
	return drvs
}

func TestDrvRootsSurviveGarbageCollection(t *testing.T) {
	n := privateNix(t)
	ctx := context.Background()
	drvs := evaluateDrvs(t, n, []Machine{
		{Name: "a", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }"}}},
		{Name: "b", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"}}},
	})
	dir := filepath.Join(t.TempDir(), "roots", "plan")

	roots, err := n.AddDrvRoots(ctx, filepath.Join(dir, "drv"), append(drvs, drvs[0])) // a duplicate is rooted once
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range roots {
		got = append(got, r.Path)
	}
	slices.Sort(got)
	if diff := cmp.Diff(drvs, got); diff != "" {
		t.Fatalf("rooted (-want +got):\n%s", diff)
	}
	listed, err := Roots(dir)
	if err != nil || len(listed) != 2 {
		t.Fatalf("Roots(%s) = %v, %v; want 2", dir, listed, err)
	}
	res, err := n.run(ctx, nil, "nix-store", "--gc", "--print-roots")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range roots {
		if !strings.Contains(string(res.stdout), r.Link+" -> "+r.Path) {
			t.Errorf("nix-store --gc --print-roots does not list %s -> %s:\n%s", r.Link, r.Path, res.stdout)
		}
	}

	collectGarbage(t, n)
	if missing, err := n.MissingPaths(ctx, drvs); err != nil || len(missing) > 0 {
		t.Fatalf("after a garbage collection, missing %v (%v)", missing, err)
	}
	// The derivation closures survived too: the systems still build.
	if _, err := n.Build(ctx, drvs, BuildOptions{}); err != nil {
		t.Fatalf("build after a garbage collection: %v", err)
	}

	// Releasing one root lets the next collection remove that derivation.
	if released, err := RemoveRoots(dir, drvs[0]); err != nil || released != 1 {
		t.Fatalf("RemoveRoots(one) = %d, %v; want 1", released, err)
	}
	collectGarbage(t, n)
	missing, err := n.MissingPaths(ctx, drvs)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{drvs[0]}, missing); diff != "" {
		t.Errorf("missing after releasing the first root (-want +got):\n%s", diff)
	}
	if released, err := RemoveRoots(dir); err != nil || released != 1 {
		t.Fatalf("RemoveRoots(all) = %d, %v; want 1", released, err)
	}
	if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the emptied roots folder is still there: %v", err)
	}
	collectGarbage(t, n)
	if missing, _ := n.MissingPaths(ctx, drvs); len(missing) != 2 {
		t.Errorf("after releasing every root, missing %v; want both", missing)
	}
}

func TestAddDrvRootsMissingDerivation(t *testing.T) {
	n := privateNix(t)
	ctx := context.Background()
	drvs := evaluateDrvs(t, n, []Machine{{Name: "a"}})
	gone := filepath.Join(filepath.Dir(drvs[0]), "00000000000000000000000000000000-gone.drv")
	_, err := n.AddDrvRoots(ctx, filepath.Join(t.TempDir(), "drv"), []string{drvs[0], gone})
	if !errors.Is(err, ErrNotInStore) || !strings.Contains(err.Error(), gone) {
		t.Errorf("want ErrNotInStore naming %s, got %v", gone, err)
	}
	if _, err := n.AddDrvRoots(ctx, "relative/drv", drvs); err == nil {
		t.Error("a relative root was accepted")
	}
	if _, err := n.AddDrvRoots(ctx, filepath.Join(t.TempDir(), "drv"), []string{"/nix/store/x-not-a-derivation"}); err == nil {
		t.Error("a path that is no .drv was accepted")
	}
}

func TestMissingPaths(t *testing.T) {
	n := privateNix(t)
	drvs := evaluateDrvs(t, n, []Machine{{Name: "a"}})
	store := filepath.Dir(drvs[0])
	fake := filepath.Join(store, "11111111111111111111111111111111-fake.drv")
	// A file in the store folder that Nix never registered is not valid.
	if err := os.WriteFile(fake, []byte("Derive([])"), 0o644); err != nil {
		t.Fatal(err)
	}
	gone := filepath.Join(store, "00000000000000000000000000000000-gone.drv")
	got, err := n.MissingPaths(context.Background(), []string{gone, drvs[0], fake, gone})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{gone, fake}, got); diff != "" {
		t.Errorf("missing (-want +got):\n%s", diff)
	}
}
