package nix

import (
	"context"
	"errors"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func TestParseDrvName(t *testing.T) {
	tests := []struct{ in, name, version string }{
		{"hello-2.12", "hello", "2.12"},
		{"nginx-1.24.0", "nginx", "1.24.0"},
		{"nixos-system-gitServer-24.05.ferrystub", "nixos-system-gitServer", "24.05.ferrystub"},
		{"nfs-utils-2.6.2", "nfs-utils", "2.6.2"},
		{"python3.11-requests-2.31.0", "python3.11-requests", "2.31.0"},
		{"etc", "etc", ""},
		{"unit-nginx.service", "unit-nginx.service", ""},
		{"hello-2.12.tar.gz", "hello", "2.12.tar.gz"},
		{"foo-", "foo-", ""},
		{"foo-_bar", "foo", "_bar"}, // Nix's rule: any dash not followed by a letter
		{"-1", "", "1"},
	}
	for _, tt := range tests {
		name, version := ParseDrvName(tt.in)
		if name != tt.name || version != tt.version {
			t.Errorf("ParseDrvName(%q) = %q, %q; want %q, %q", tt.in, name, version, tt.name, tt.version)
		}
	}
}

func TestDiffPackages(t *testing.T) {
	old := map[string][]string{"a": {"1"}, "b": {"1"}, "c": {"1", "2"}, "d": {"1"}}
	new := map[string][]string{"a": {"1"}, "b": {"2"}, "c": {"2"}, "e": {"5"}}
	want := Diff{
		Added:   []Package{{Name: "e", Version: "5"}},
		Removed: []Package{{Name: "d", Version: "1"}},
		Changed: []Package{{Name: "b", Version: "2", OldVersion: "1"}, {Name: "c", Version: "2", OldVersion: "1, 2"}},
	}
	if diff := cmp.Diff(want, diffPackages(old, new)); diff != "" {
		t.Errorf("(-want +got):\n%s", diff)
	}
}

// The diff comes from derivation closures: nothing is built.
func TestPackageDiff(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	dir := fleetDir(t)
	before := Machine{Name: "host", Modules: []Module{
		{Path: filepath.Join(dir, "common.nix")},
		{Inline: "{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }"},
	}}
	after := Machine{Name: "host", Modules: []Module{
		{Path: filepath.Join(dir, "common.nix")},
		{Inline: `{ pkgs, ... }: {
			environment.systemPackages = [ pkgs.hello ];
			nixpkgs.overlays = [ ];
			services.openssh.package = pkgs.openssh.overrideAttrs (old: { version = "9.7"; });
			boot.kernelPackages = pkgs.linuxPackages_6_6;
		}`},
	}}
	drv := func(m Machine) string {
		got, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: []Machine{m}, Resources: fleetResources()})
		if err != nil {
			t.Fatal(err)
		}
		return got["host"].DrvPath
	}
	oldDrv, newDrv := drv(before), drv(after)
	got, err := n.PackageDiff(ctx, oldDrv, newDrv)
	if err != nil {
		t.Fatal(err)
	}
	want := Diff{
		Added:   []Package{{Name: "hello", Version: "2.12"}},
		Removed: []Package{{Name: "vim", Version: "9.0.2116"}},
		Changed: []Package{
			// The initrd is named after its kernel, as in NixOS.
			{Name: "initrd-linux", Version: "6.6.8", OldVersion: "6.1.0"},
			{Name: "linux", Version: "6.6.8", OldVersion: "6.1.0"},
			{Name: "openssh", Version: "9.7", OldVersion: "9.6"},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("package diff (-want +got):\n%s", diff)
	}
	if same, err := n.PackageDiff(ctx, newDrv, newDrv); err != nil || !same.Empty() {
		t.Errorf("diff of a system with itself: %+v, %v", same, err)
	}
}

func TestPackageDiffErrors(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	gone := "/nix/store/00000000000000000000000000000000-nixos-system-gone-24.05.drv"
	if _, err := n.PackageDiff(ctx, gone, gone); !errors.Is(err, ErrNotInStore) {
		t.Errorf("diff of a collected system: want ErrNotInStore, got %v", err)
	}
	if _, err := n.PackageDiff(ctx, "/nix/store/x-hello-2.12", gone); err == nil {
		t.Error("diff of an output path: want an error")
	}
}
