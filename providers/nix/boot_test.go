package nix

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// Boot files of stub systems: what changes them, and that the built
// system's links resolve to them.
func TestEvaluateBootFiles(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	inline := func(name, text string) Machine {
		return Machine{Name: name, Modules: []Module{{Inline: text}}}
	}
	machines := []Machine{
		{Name: "base"},
		// Another host with other packages and the same kernel boots the same.
		inline("other", `{ pkgs, ... }: { environment.systemPackages = [ pkgs.htop ]; services.nginx.enable = true; }`),
		inline("latest", `{ pkgs, ... }: { boot.kernelPackages = pkgs.linuxPackages_latest; }`),
		inline("initrd", `{ boot.initrd.ferryStubContent = "changed"; }`),
		inline("initrdModules", `{ boot.initrd.kernelModules = [ "nvme" ]; }`),
	}
	got, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: machines})
	if err != nil {
		t.Fatal(err)
	}
	boot := map[string]BootFiles{}
	for _, m := range machines {
		b := got[m.Name].Boot
		if b == nil || b.Kernel == "" || b.Initrd == "" || b.Modules == "" {
			t.Fatalf("%s: boot files %+v, want all three", m.Name, b)
		}
		boot[m.Name] = *b
	}
	base := boot["base"]
	for _, c := range []struct{ path, suffix string }{
		{base.Kernel, "-linux-6.1.0/bzImage"},
		{base.Initrd, "-initrd-linux-6.1.0/initrd"},
		{base.Modules, "-kernel-modules"},
	} {
		if !strings.HasPrefix(c.path, "/nix/store/") || !strings.HasSuffix(c.path, c.suffix) {
			t.Errorf("boot file %s, want /nix/store/...%s", c.path, c.suffix)
		}
	}
	if !strings.HasSuffix(boot["latest"].Kernel, "-linux-6.6.8/bzImage") {
		t.Errorf("latest kernel: %s", boot["latest"].Kernel)
	}
	// What differs from base, by name. A new kernel brings new modules and,
	// as on NixOS, a new initrd (built from the kernel and named after it).
	wantChanged := map[string][]string{
		"other":         nil,
		"latest":        {"kernel", "initrd", "kernel-modules"},
		"initrd":        {"initrd"},
		"initrdModules": {"initrd"},
	}
	for name, want := range wantChanged {
		b := boot[name]
		if diff := cmp.Diff(want, changedFiles(b, base)); diff != "" {
			t.Errorf("%s: changed boot files (-want +got):\n%s", name, diff)
		}
	}
	if boot["initrd"].Initrd == boot["initrdModules"].Initrd {
		t.Error("two different initrd settings gave one initrd")
	}

	// Built, each system's links resolve to exactly these paths.
	var drvs []string
	for _, m := range machines {
		drvs = append(drvs, got[m.Name].DrvPath)
	}
	built, err := n.Build(ctx, drvs, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, m := range machines {
		out := built[got[m.Name].DrvPath].OutPath
		if out != got[m.Name].OutPath {
			t.Fatalf("%s: built %s, evaluated %s", m.Name, out, got[m.Name].OutPath)
		}
		var links BootFiles
		for _, l := range []struct {
			link string
			into *string
		}{{"kernel", &links.Kernel}, {"initrd", &links.Initrd}, {"kernel-modules", &links.Modules}} {
			p, err := filepath.EvalSymlinks(filepath.Join(out, l.link))
			if err != nil {
				t.Fatalf("%s: %v", m.Name, err)
			}
			*l.into = p
		}
		if diff := cmp.Diff(boot[m.Name], links); diff != "" {
			t.Errorf("%s: readlink -f of the system's links (-evaluated +built):\n%s", m.Name, diff)
		}
	}
	if k, _ := os.ReadFile(boot["latest"].Kernel); !strings.Contains(string(k), "version 6.6.8") {
		t.Errorf("latest kernel image: %q", k)
	}
	if i, _ := os.ReadFile(boot["initrd"].Initrd); !strings.Contains(string(i), "Linux 6.1.0") || !strings.Contains(string(i), "changed") {
		t.Errorf("initrd: %q", i)
	}
	if i, _ := os.ReadFile(boot["initrdModules"].Initrd); !strings.Contains(string(i), "kernel modules: nvme") {
		t.Errorf("initrd with modules: %q", i)
	}
	if _, err := os.Stat(filepath.Join(boot["latest"].Modules, "lib", "modules", "6.6.8")); err != nil {
		t.Errorf("modules tree of the latest kernel: %v", err)
	}
}

// A nixpkgs without (some of) the options boot files come from evaluates as
// before, with nil or partial Boot; testdata/bare-nixpkgs has a variant per
// case, chosen by a machine argument.
func TestEvaluateBootFilesWithoutOptions(t *testing.T) {
	n := testNix(t)
	nixpkgs, err := filepath.Abs(filepath.Join("testdata", "bare-nixpkgs"))
	if err != nil {
		t.Fatal(err)
	}
	variants := []string{"none", "throwing", "container", "partial", "noInitrd", "full"}
	var machines []Machine
	for _, v := range variants {
		machines = append(machines, Machine{Name: v, Args: map[string]any{"variant": v}})
	}
	got, err := n.Evaluate(context.Background(), EvalOptions{Nixpkgs: nixpkgs, Machines: machines})
	if err != nil {
		t.Fatal(err)
	}
	// Paths reduced to their names, as fake derivations' hashes vary by system.
	type files struct{ Kernel, Initrd, Modules string }
	want := map[string]*files{
		"none":      nil,
		"throwing":  nil,
		"container": nil,
		"partial":   {Kernel: "bare-kernel/bzImage"},
		"noInitrd":  {Kernel: "bare-kernel/Image", Modules: "bare-modules"},
		"full":      {Kernel: "bare-kernel/Image", Initrd: "bare-initrd/initrd.zst", Modules: "bare-modules"},
	}
	name := func(p string) string {
		if p == "" {
			return ""
		}
		rest, ok := strings.CutPrefix(p, "/nix/store/")
		if !ok || len(rest) < 34 {
			return "not a store path: " + p
		}
		return rest[33:]
	}
	for _, v := range variants {
		ev, ok := got[v]
		if !ok {
			t.Errorf("%s: not evaluated", v)
			continue
		}
		if !strings.HasSuffix(ev.OutPath, "-bare-system-"+v) {
			t.Errorf("%s: out path %s", v, ev.OutPath)
		}
		var have *files
		if ev.Boot != nil {
			have = &files{name(ev.Boot.Kernel), name(ev.Boot.Initrd), name(ev.Boot.Modules)}
		}
		if diff := cmp.Diff(want[v], have); diff != "" {
			t.Errorf("%s: boot files (-want +got):\n%s", v, diff)
		}
	}
}

func TestBootFilesIsZero(t *testing.T) {
	var none *BootFiles
	if !none.IsZero() || !(&BootFiles{}).IsZero() || (&BootFiles{Kernel: "/k1"}).IsZero() {
		t.Error("IsZero")
	}
}

// changedFiles names the boot files of b that differ from base.
func changedFiles(b, base BootFiles) []string {
	var out []string
	for _, f := range []struct{ name, a, b string }{{"kernel", b.Kernel, base.Kernel}, {"initrd", b.Initrd, base.Initrd}, {"kernel-modules", b.Modules, base.Modules}} {
		if f.a != f.b {
			out = append(out, f.name)
		}
	}
	return out
}

// decodeEvaluated reads the boot files, and output without them (an older
// expression) still decodes.
func TestDecodeEvaluatedBoot(t *testing.T) {
	got := decodeEvaluated([]byte(`{"a":{"boot":{"initrd":null,"kernel":"/nix/store/k/bzImage","modules":null},"drv":"/d.drv","out":"/o"},` +
		`"b":{"boot":null,"drv":"/d2.drv","out":"/o2"},"c":{"drv":"/d3.drv","out":"/o3"},` +
		`"d":{"boot":{"initrd":null,"kernel":null,"modules":null},"drv":"/d4.drv","out":"/o4"}}`))
	want := map[string]Evaluated{
		"a": {DrvPath: "/d.drv", OutPath: "/o", Boot: &BootFiles{Kernel: "/nix/store/k/bzImage"}},
		"b": {DrvPath: "/d2.drv", OutPath: "/o2"},
		"c": {DrvPath: "/d3.drv", OutPath: "/o3"},
		"d": {DrvPath: "/d4.drv", OutPath: "/o4"},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("decoded (-want +got):\n%s", diff)
	}
}
