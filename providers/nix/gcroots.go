package nix

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
)

// Root is one indirect garbage collector root: a symlink outside the store
// (Link) to a store path (Path) that Nix keeps as long as the link exists.
type Root struct {
	Link string
	Path string
}

// rootsExpression turns a JSON list of .drv paths (read from the file
// named by the argument) into the derivations they are: importing a .drv
// that is valid in the store gives its derivation, with no evaluation of
// anything else, so nix-instantiate --add-root registers a root for each.
const rootsExpression = `{ list }: map import (builtins.fromJSON (builtins.readFile list))`

// AddDrvRoots makes every derivation in drvs an indirect garbage collector
// root, with one nix-instantiate process: it creates the symlinks base,
// base-2, base-3, ... (Nix's numbering, one per distinct derivation) and
// registers each under the Nix state directory's gcroots/auto, as
// `nix-instantiate --add-root` does for what it instantiates. A .drv
// cannot be rooted with `nix-store --add-root --realise`, which would build
// it. The roots hold the derivations and their derivation closures (input
// derivations and sources), not their outputs.
//
// Removing a link releases its root (RemoveRoots); Nix drops the stale
// registration at its next garbage collection. base must be absolute; its
// folder is created (0700) when missing. A derivation that is not in the
// store fails the call with ErrNotInStore, naming it.
func (n Nix) AddDrvRoots(ctx context.Context, base string, drvs []string) ([]Root, error) {
	drvs = uniqueSorted(drvs)
	if len(drvs) == 0 {
		return nil, nil
	}
	if !filepath.IsAbs(base) {
		return nil, fmt.Errorf("add GC roots: %s is not an absolute path", base)
	}
	for _, drv := range drvs {
		if !strings.HasSuffix(drv, ".drv") || !filepath.IsAbs(drv) {
			return nil, fmt.Errorf("add GC roots: %s is not a derivation (.drv) path", drv)
		}
	}
	if err := os.MkdirAll(filepath.Dir(base), 0o700); err != nil {
		return nil, fmt.Errorf("add GC roots: %w", err)
	}
	// The list goes through a file: one argument holds at most 128 KiB on
	// Linux, a few thousand store paths.
	list, err := os.CreateTemp("", "ferry-roots-*.json")
	if err != nil {
		return nil, fmt.Errorf("add GC roots: %w", err)
	}
	defer os.Remove(list.Name())
	data, _ := json.Marshal(drvs)
	_, err = list.Write(data)
	if cerr := list.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("add GC roots: %w", err)
	}
	res, err := n.run(ctx, nil, "nix-instantiate", "--add-root", base, "--indirect",
		"--argstr", "list", list.Name(), "--expr", rootsExpression)
	if err != nil {
		if missing, merr := n.MissingPaths(ctx, drvs); merr == nil && len(missing) > 0 {
			return nil, fmt.Errorf("add GC roots: %w: %s", ErrNotInStore, strings.Join(missing, ", "))
		}
		return nil, fmt.Errorf("add GC roots: %w", err)
	}
	var roots []Root
	for _, line := range strings.Split(string(res.stdout), "\n") {
		link, _, _ := strings.Cut(line, "!") // "LINK!output" for an output other than out
		if link == "" {
			continue
		}
		target, err := os.Readlink(link)
		if err != nil {
			return roots, fmt.Errorf("add GC roots: nix-instantiate printed %s, which is no root: %w", link, err)
		}
		roots = append(roots, Root{Link: link, Path: target})
	}
	if len(roots) != len(drvs) {
		return roots, fmt.Errorf("add GC roots: nix-instantiate registered %d roots for %d derivations", len(roots), len(drvs))
	}
	return roots, nil
}

// Roots lists the indirect roots in dir: its symlinks to absolute paths,
// sorted by link. A missing dir holds none.
func Roots(dir string) ([]Root, error) {
	des, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("list GC roots: %w", err)
	}
	var out []Root
	for _, de := range des {
		if de.Type()&fs.ModeSymlink == 0 {
			continue
		}
		link := filepath.Join(dir, de.Name())
		target, err := os.Readlink(link)
		if err != nil || !filepath.IsAbs(target) {
			continue
		}
		out = append(out, Root{Link: link, Path: target})
	}
	return out, nil
}

// RemoveRoots releases the roots in dir that point to one of paths (every
// root in dir when paths is empty) by removing their links, then removes
// dir when nothing is left in it. It returns how many roots it released.
// Nothing else in dir is touched.
func RemoveRoots(dir string, paths ...string) (int, error) {
	roots, err := Roots(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	var errs []error
	for _, r := range roots {
		if len(paths) > 0 && !slices.Contains(paths, r.Path) {
			continue
		}
		switch err := os.Remove(r.Link); {
		case err == nil:
			removed++
		case !errors.Is(err, fs.ErrNotExist): // released by someone else meanwhile
			errs = append(errs, fmt.Errorf("release GC root: %w", err))
		}
	}
	_ = os.Remove(dir) // fails unless empty
	return removed, errors.Join(errs...)
}

// MissingPaths returns the paths that are not valid in the Nix store, in
// the order given, with one nix-store --check-validity for those that
// exist as files (a path with no file is missing without asking Nix).
func (n Nix) MissingPaths(ctx context.Context, paths []string) ([]string, error) {
	var missing, present []string
	for _, p := range paths {
		if _, err := os.Lstat(p); err != nil {
			missing = append(missing, p)
		} else {
			present = append(present, p)
		}
	}
	if len(present) > 0 {
		invalid, err := n.invalidPaths(ctx, present)
		if err != nil {
			return nil, fmt.Errorf("check store paths: %w", err)
		}
		for _, p := range present {
			if invalid[p] {
				missing = append(missing, p)
			}
		}
	}
	// The order given.
	order := make(map[string]int, len(paths))
	for i, p := range paths {
		if _, ok := order[p]; !ok {
			order[p] = i
		}
	}
	slices.SortStableFunc(missing, func(a, b string) int { return order[a] - order[b] })
	return slices.Compact(missing), nil
}
