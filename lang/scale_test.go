package lang

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// layered declares layers*width null resources; each resource of a layer
// after the first references the ids of two resources of the previous one.
const layered = `
def build(layers, width):
    prev = []
    for l in range(layers):
        cur = []
        for i in range(width):
            triggers = {"layer": str(l)}
            if prev:
                triggers["a"] = prev[i].id
                triggers["b"] = prev[(i + 1) %% width].id
            cur.append(null.resource("l%%d-%%d" %% (l, i), triggers = triggers))
        prev = cur

build(%d, %d)
`

func TestLoopInFunctionDeclaresTenThousand(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": fmt.Sprintf(layered, 1, 10_000)})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.Resources); got != 10_000 {
		t.Fatalf("declared %d resources, want 10000", got)
	}
	last := cfg.Resources[9_999]
	if last.Addr != "null.resource.l0-9999" || last.Pos != (spec.Pos{File: "ferry.star", Line: 11, Col: 24}) {
		t.Errorf("last resource %s at %s", last.Addr, last.Pos)
	}
}

func TestLayeredReferences(t *testing.T) {
	dir := writeFiles(t, map[string]string{"ferry.star": fmt.Sprintf(layered, 3, 4)})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	r := cfg.ResourceByAddr("null.resource.l2-3")
	if r == nil {
		t.Fatal("null.resource.l2-3 not declared")
	}
	got := spec.Refs(r.Args)
	want := []spec.Ref{{Addr: "null.resource.l1-0", Attr: "id"}, {Addr: "null.resource.l1-3", Attr: "id"}}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("refs = %v, want %v", got, want)
	}
}

// BenchmarkLoad loads 5,000 resources in 10 layers of 500; the target is
// well under 100 ms per load.
func BenchmarkLoad(b *testing.B) {
	dir := writeFiles(b, map[string]string{"ferry.star": fmt.Sprintf(layered, 10, 500)})
	opts := Options{Dir: dir, Schemas: testSchemas()}
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Load(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Resources) != 5_000 {
			b.Fatalf("declared %d resources", len(cfg.Resources))
		}
	}
}

// BenchmarkLoadFlat loads a generated file of 5,000 resource statements,
// each referring to the one before: parsing and positions dominate.
func BenchmarkLoadFlat(b *testing.B) {
	var src strings.Builder
	src.WriteString("r0 = null.resource(\"r0\")\n")
	for i := 1; i < 5_000; i++ {
		fmt.Fprintf(&src, "r%d = null.resource(\"r%d\", triggers = {\"dep\": r%d.id})\n", i, i, i-1)
	}
	dir := writeFiles(b, map[string]string{"ferry.star": src.String()})
	opts := Options{Dir: dir, Schemas: testSchemas()}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Load(context.Background(), opts); err != nil {
			b.Fatal(err)
		}
	}
}

// fleet declares n machines in a loop, each with a target behind one jump
// host, a module with its own args and the deployment's defaults.
const fleet = `
common = nix.module("./common.nix")
defaults(modules = [common])
bastion = ssh(host = "bastion.example.com", port = 2222)
web = []
for i in range(%d):
    web.append(machine(
        name = "web-%%d" %% i,
        target = ssh(host = "10.%%d.%%d.%%d" %% (i // 65536, (i // 256) %% 256, i %% 256), jump = bastion),
        modules = [nix.module("./web.nix", args = {"index": i, "peer": web[-1].target.host if web else None})],
        tags = ["web", "rack-%%d" %% (i %% 10)],
    ))
output("last", web[-1].target.host)
`

func TestThousandMachines(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"ferry.star": fmt.Sprintf(fleet, 1000),
		"common.nix": "{ }\n",
		"web.nix":    "{ index, peer, ... }: { }\n",
	})
	cfg, err := Load(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if got := len(cfg.Machines); got != 1000 {
		t.Fatalf("declared %d machines, want 1000", got)
	}
	last := cfg.Machines[999]
	if last.Addr != "machine.web-999" || last.Target.Host != "10.0.3.231" || last.Target.Jump.Host != "bastion.example.com" {
		t.Errorf("last machine %s at %s, jump %v", last.Addr, last.Target.Host, last.Target.Jump)
	}
	if len(last.Modules) != 2 || last.Modules[0].Path != filepath.Join(dir, "common.nix") {
		t.Errorf("last machine's modules = %v, want common.nix then web.nix", last.Modules)
	}
	wantArgs := map[string]any{"index": spec.Number(999), "peer": "10.0.3.230"}
	if diff := cmp.Diff(wantArgs, last.Modules[1].Args); diff != "" {
		t.Errorf("last machine's web.nix args (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"web", "rack-9"}, last.Tags); diff != "" {
		t.Errorf("tags (-want +got):\n%s", diff)
	}
	if got := len(cfg.Inputs.Files); got != 3 {
		t.Errorf("input files = %v, want ferry.star, common.nix and web.nix", keys(cfg.Inputs.Files))
	}
}

// BenchmarkLoadMachines loads 1,000 machines; the target is well under
// 50 ms per load.
func BenchmarkLoadMachines(b *testing.B) {
	dir := writeFiles(b, map[string]string{
		"ferry.star": fmt.Sprintf(fleet, 1000),
		"common.nix": "{ }\n",
		"web.nix":    "{ }\n",
	})
	opts := Options{Dir: dir}
	b.ReportAllocs()
	for b.Loop() {
		cfg, err := Load(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if len(cfg.Machines) != 1000 {
			b.Fatalf("declared %d machines", len(cfg.Machines))
		}
	}
}
