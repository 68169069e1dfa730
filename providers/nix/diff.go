package nix

import (
	"context"
	"fmt"
	"path"
	"slices"
	"sort"
	"strings"

	"golang.org/x/sync/errgroup"
)

// Package is one package of a system: a name and its version(s).
type Package struct {
	Name string `json:"name"`
	// Version is the version in the new system (for Removed: the old one).
	// Several versions of one name are joined with ", ".
	Version string `json:"version"`
	// OldVersion is the version in the old system, for Changed only.
	OldVersion string `json:"old_version,omitempty"`
}

// Diff is the package-level difference between two systems.
type Diff struct {
	Added   []Package `json:"added,omitempty"`
	Removed []Package `json:"removed,omitempty"`
	Changed []Package `json:"changed,omitempty"`
}

// Empty reports whether no package was added, removed or changed.
func (d Diff) Empty() bool {
	return len(d.Added) == 0 && len(d.Removed) == 0 && len(d.Changed) == 0
}

// PackageDiff diffs with the zero Nix (see Nix.PackageDiff).
func PackageDiff(ctx context.Context, oldDrv, newDrv string) (Diff, error) {
	return Nix{}.PackageDiff(ctx, oldDrv, newDrv)
}

// PackageDiff compares the packages of two systems given as toplevel .drv
// paths, from their derivation closures: nothing is built, so a plan can
// show it before any build. A package is a derivation of the closure whose
// name has a version (Nix's parseDrvName rule) and that is not a fixed-output
// derivation (a fetched source); the toplevels themselves, sources and
// unversioned derivations (generated files, units) are left out. Names with
// several versions compare as a set of versions. Each list is sorted by name.
//
// When either derivation is no longer in the store the error matches
// ErrNotInStore.
func (n Nix) PackageDiff(ctx context.Context, oldDrv, newDrv string) (Diff, error) {
	for _, drv := range []string{oldDrv, newDrv} {
		if !strings.HasSuffix(drv, ".drv") {
			return Diff{}, fmt.Errorf("package diff: %s is not a derivation (.drv) path", drv)
		}
	}
	var oldPkgs, newPkgs map[string][]string
	g, gctx := errgroup.WithContext(ctx)
	g.Go(func() (err error) { oldPkgs, err = n.packages(gctx, oldDrv); return err })
	g.Go(func() (err error) { newPkgs, err = n.packages(gctx, newDrv); return err })
	if err := g.Wait(); err != nil {
		return Diff{}, fmt.Errorf("package diff: %w", err)
	}
	return diffPackages(oldPkgs, newPkgs), nil
}

// packages maps package names to their sorted versions in drv's closure.
func (n Nix) packages(ctx context.Context, drv string) (map[string][]string, error) {
	closure, err := n.Closure(ctx, drv)
	if err != nil {
		return nil, err
	}
	pkgs := map[string][]string{}
	for _, p := range closure {
		if p == drv || !strings.HasSuffix(p, ".drv") {
			continue
		}
		name, version := ParseDrvName(strings.TrimSuffix(storePathName(p), ".drv"))
		if version == "" {
			continue
		}
		outs, err := readOutputs(p)
		if err != nil {
			return nil, err
		}
		if outs[0].HashAlgo != "" {
			continue // a fetched source
		}
		pkgs[name] = append(pkgs[name], version)
	}
	for name, vs := range pkgs {
		sort.Strings(vs)
		pkgs[name] = slices.Compact(vs)
	}
	return pkgs, nil
}

func diffPackages(oldPkgs, newPkgs map[string][]string) Diff {
	var d Diff
	for name, nv := range newPkgs {
		ov, ok := oldPkgs[name]
		switch {
		case !ok:
			d.Added = append(d.Added, Package{Name: name, Version: strings.Join(nv, ", ")})
		case strings.Join(ov, ", ") != strings.Join(nv, ", "):
			d.Changed = append(d.Changed, Package{Name: name, Version: strings.Join(nv, ", "), OldVersion: strings.Join(ov, ", ")})
		}
	}
	for name, ov := range oldPkgs {
		if _, ok := newPkgs[name]; !ok {
			d.Removed = append(d.Removed, Package{Name: name, Version: strings.Join(ov, ", ")})
		}
	}
	for _, l := range [][]Package{d.Added, d.Removed, d.Changed} {
		sort.Slice(l, func(i, j int) bool { return l[i].Name < l[j].Name })
	}
	return d
}

// ParseDrvName splits a derivation name into name and version with Nix's
// rule (builtins.parseDrvName): the version starts after the first dash that
// is not followed by a letter. "hello-2.12" is ("hello", "2.12");
// "nixos-system-web-24.05" is ("nixos-system-web", "24.05"); "etc" has no
// version.
func ParseDrvName(s string) (name, version string) {
	for i := 0; i+1 < len(s); i++ {
		if s[i] == '-' && !isASCIILetter(s[i+1]) {
			return s[:i], s[i+1:]
		}
	}
	return s, ""
}

func isASCIILetter(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' }

// storePathName returns the name part of a store path: what follows the
// hash and its dash.
func storePathName(p string) string {
	base := path.Base(p)
	if _, name, ok := strings.Cut(base, "-"); ok {
		return name
	}
	return base
}
