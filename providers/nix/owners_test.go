package nix

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func TestDerivationOwners(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	evaluated, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: []Machine{
		{Name: "web", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.nginx ]; }"}}},
		{Name: "db", Modules: []Module{{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.postgresql ]; }"}}},
	}})
	if err != nil {
		t.Fatal(err)
	}
	web, db := evaluated["web"].DrvPath, evaluated["db"].DrvPath
	owners, err := DerivationOwners([]string{web, db})
	if err != nil {
		t.Fatal(err)
	}
	// The same as Nix's own derivation closures.
	for _, top := range []string{web, db} {
		closure, err := n.Closure(ctx, top)
		if err != nil {
			t.Fatal(err)
		}
		var drvs []string
		for _, p := range closure {
			if strings.HasSuffix(p, ".drv") {
				drvs = append(drvs, p)
			}
		}
		var ours []string
		for d, o := range owners {
			if slices.Contains(o, top) {
				ours = append(ours, d)
			}
		}
		slices.Sort(ours)
		if !slices.Equal(drvs, ours) {
			t.Errorf("closure of %s:\nNix:  %v\nours: %v", top, drvs, ours)
		}
	}
	for d, o := range owners {
		switch {
		case strings.Contains(d, "-nginx-") && !slices.Equal(o, []string{web}),
			strings.Contains(d, "-postgresql-") && !slices.Equal(o, []string{db}),
			strings.Contains(d, "-openssl-") && len(o) != 2:
			t.Errorf("%s: owners %v", d, o)
		}
	}
	if _, err := DerivationOwners([]string{"/nix/store/00000000000000000000000000000000-gone.drv"}); err == nil {
		t.Error("owners of a missing derivation: no error")
	}
}
