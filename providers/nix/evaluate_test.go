package nix

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// systemConfig is the part of a stub system's etc/ferry-config.json the
// tests look at.
type systemConfig struct {
	HostName       string
	Domain         string
	SystemPackages []string
	Services       struct {
		Nginx struct {
			Enable       bool
			VirtualHosts map[string]struct {
				Locations map[string]struct{ ProxyPass string }
			}
		}
		Forgejo struct {
			Enable bool
			Port   int
		}
		NFS struct {
			Server struct{ Enable bool } `json:"server"`
		} `json:"nfs"`
	}
	FileSystems map[string]struct{ Device, FSType string }
}

func readSystemConfig(t *testing.T, out string) systemConfig {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(out, "etc", "ferry-config.json"))
	if err != nil {
		t.Fatal(err)
	}
	var c systemConfig
	if err := json.Unmarshal(data, &c); err != nil {
		t.Fatal(err)
	}
	return c
}

func TestEvaluateFleetWithNodes(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	got, err := n.Evaluate(ctx, EvalOptions{
		Nixpkgs:   nixtest.NixpkgsPath(),
		Machines:  fleet(t),
		Resources: fleetResources(),
	})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"gitServer", "reverse-proxy", "storage"}, sortedKeys(got)); diff != "" {
		t.Fatalf("evaluated machines (-want +got):\n%s", diff)
	}
	var drvs []string
	for name, ev := range got {
		if !strings.HasSuffix(ev.DrvPath, "-nixos-system-"+name+"-24.05.ferrystub.drv") ||
			!strings.HasSuffix(ev.OutPath, "-nixos-system-"+name+"-24.05.ferrystub") {
			t.Errorf("%s: unexpected paths %+v", name, ev)
		}
		if _, err := os.Stat(ev.DrvPath); err != nil {
			t.Errorf("%s: the .drv is not in the store: %v", name, err)
		}
		drvs = append(drvs, ev.DrvPath)
	}

	// The cross references end up in the built systems.
	built, err := n.Build(ctx, drvs, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for name, ev := range got {
		if built[ev.DrvPath].OutPath != ev.OutPath {
			t.Errorf("%s: built %q, evaluated %q", name, built[ev.DrvPath].OutPath, ev.OutPath)
		}
	}
	proxy := readSystemConfig(t, got["reverse-proxy"].OutPath)
	git := readSystemConfig(t, got["gitServer"].OutPath)
	storage := readSystemConfig(t, got["storage"].OutPath)
	type summary struct {
		HostName, Domain, ProxyPass, GitMount string
		ForgejoPort                           int
		NFSServer                             bool
		HasVim                                bool
	}
	gotSummary := []summary{
		{HostName: proxy.HostName, Domain: proxy.Domain,
			ProxyPass: proxy.Services.Nginx.VirtualHosts["git.example.com"].Locations["/"].ProxyPass},
		{HostName: git.HostName, Domain: git.Domain, ForgejoPort: git.Services.Forgejo.Port,
			GitMount: git.FileSystems["/srv/git"].Device + " " + git.FileSystems["/srv/git"].FSType},
		{HostName: storage.HostName, Domain: storage.Domain, NFSServer: storage.Services.NFS.Server.Enable,
			HasVim: slices.Contains(storage.SystemPackages, "vim-9.0.2116")},
	}
	want := []summary{
		{HostName: "reverse-proxy", Domain: "example.com", ProxyPass: "http://10.0.0.2:3001"},
		{HostName: "gitServer", Domain: "example.com", ForgejoPort: 3001, GitMount: "storage:/export/git nfs"},
		{HostName: "storage", Domain: "example.com", NFSServer: true, HasVim: true},
	}
	if diff := cmp.Diff(want, gotSummary); diff != "" {
		t.Errorf("systems (-want +got):\n%s", diff)
	}
}

func TestEvaluateErrorNamesMachine(t *testing.T) {
	n := testNix(t)
	tests := []struct {
		name    string
		module  Module
		message string // in Nix's message
	}{
		{"throw", Module{Inline: "{ ferry.test.failEval = true; }"},
			"evaluation of broken failed as requested by ferry.test.failEval"},
		{"syntax error", Module{Inline: "{ services.nginx.enable = true "},
			"syntax error"},
		{"missing node", Module{Inline: "{ nodes, ... }: { networking.domain = nodes.nowhere.config.networking.domain; }"},
			"attribute 'nowhere' missing"},
		{"failed assertion", Module{Inline: `{ assertions = [ { assertion = false; message = "disks must be encrypted"; } ]; }`},
			"Failed assertions:\n- disks must be encrypted"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			machines := append(fleet(t), Machine{Name: "broken", Modules: []Module{tt.module}})
			got, err := n.Evaluate(context.Background(), EvalOptions{
				Nixpkgs: nixtest.NixpkgsPath(), Machines: machines, Resources: fleetResources(),
			})
			var me *MachineError
			if !errors.As(err, &me) {
				t.Fatalf("want a *MachineError, got %v", err)
			}
			if me.Machine != "broken" || !strings.Contains(me.Message, tt.message) {
				t.Errorf("got machine %q, message %q; want machine broken and a message with %q", me.Machine, me.Message, tt.message)
			}
			for _, part := range []string{"evaluate machine broken: ", "--show-trace"} {
				if !strings.Contains(err.Error(), part) {
					t.Errorf("error %q lacks %q", err, part)
				}
			}
			// Without KeepGoing evaluation stops at the failure: "broken"
			// sorts first, so nothing else was evaluated.
			if len(got) != 0 {
				t.Errorf("results after a failure without KeepGoing: %v", sortedKeys(got))
			}
		})
	}
}

func TestEvaluateKeepGoing(t *testing.T) {
	n := testNix(t)
	machines := append(fleet(t),
		Machine{Name: "a-broken", Modules: []Module{{Inline: "{ ferry.test.failEval = true; }"}}},
		Machine{Name: "m-broken", Modules: []Module{{Inline: "{ ferry.test.failEval = true; }"}}},
	)
	var passes []EvalPass
	got, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs: nixtest.NixpkgsPath(), Machines: machines, Resources: fleetResources(),
		KeepGoing: true,
		OnPass:    func(p EvalPass) { passes = append(passes, p) },
	})
	if diff := cmp.Diff([]string{"gitServer", "reverse-proxy", "storage"}, sortedKeys(got)); diff != "" {
		t.Errorf("evaluated machines (-want +got):\n%s", diff)
	}
	var failed []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var me *MachineError
		if errors.As(e, &me) {
			failed = append(failed, me.Machine)
		}
	}
	if diff := cmp.Diff([]string{"a-broken", "m-broken"}, failed); diff != "" {
		t.Errorf("failed machines (-want +got):\n%s", diff)
	}
	// Pass 1 fails on a-broken; pass 2 on m-broken after evaluating
	// gitServer (kept from its partial output); pass 3 does the rest.
	type passSummary struct {
		Asked     int
		Evaluated int
		Failed    string
	}
	var gotPasses []passSummary
	for _, p := range passes {
		gotPasses = append(gotPasses, passSummary{len(p.Machines), p.Evaluated, p.Failed})
	}
	wantPasses := []passSummary{{5, 0, "a-broken"}, {4, 1, "m-broken"}, {2, 2, ""}}
	if diff := cmp.Diff(wantPasses, gotPasses); diff != "" {
		t.Errorf("passes (-want +got):\n%s", diff)
	}
}

func TestEvaluateKnownAfterApply(t *testing.T) {
	n := testNix(t)
	machines := []Machine{
		{Name: "web", Modules: []Module{{Inline: "{ resources, ... }: { networking.domain = resources.lb.ip; }"}}},
		{Name: "db", Modules: []Module{{Inline: "{ resources, ... }: { networking.domain = resources.zone; }"}}},
	}
	got, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs:  nixtest.NixpkgsPath(),
		Machines: machines,
		Resources: map[string]any{
			"zone": "example.com",
			"lb":   map[string]any{"ip": spec.Unknown{Source: "aws.elb.lb.ip"}},
		},
		KeepGoing: true,
	})
	if !errors.Is(err, ErrKnownAfterApply) {
		t.Fatalf("want ErrKnownAfterApply, got %v", err)
	}
	if !strings.Contains(err.Error(), "machine web: ") || !strings.Contains(err.Error(), "aws.elb.lb.ip") {
		t.Errorf("error %q should name machine web and the unknown value", err)
	}
	if diff := cmp.Diff([]string{"db"}, sortedKeys(got)); diff != "" {
		t.Errorf("evaluated machines (-want +got):\n%s", diff)
	}
}

func TestEvaluatePasses(t *testing.T) {
	n := testNix(t)
	ctx := context.Background()
	base := EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: fleet(t), Resources: fleetResources()}
	onePass, err := n.Evaluate(ctx, base)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		budget     int64
		perMachine int64
		names      []string
		wantPasses []int // machines per pass
	}{
		{"no budget", 0, 0, nil, []int{3}},
		{"large budget", 64 << 30, 0, nil, []int{3}},
		// Two machines fit the first pass; the measured memory of a stub
		// machine is far below the estimate, so the last one follows in
		// a single second pass.
		{"first pass from the estimate", 1 << 30, 512 << 20, nil, []int{2, 1}},
		{"budget below one machine", 1, 0, nil, []int{1, 1, 1}},
		{"subset", 0, 0, []string{"reverse-proxy"}, []int{1}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			opts := base
			opts.MemoryBudget, opts.MachineMemory, opts.Names = tt.budget, tt.perMachine, tt.names
			var passes []int
			opts.OnPass = func(p EvalPass) {
				passes = append(passes, len(p.Machines))
				if p.MaxRSS <= 0 {
					t.Errorf("pass without a measured peak memory: %+v", p)
				}
			}
			got, err := n.Evaluate(ctx, opts)
			if err != nil {
				t.Fatal(err)
			}
			want := onePass
			if tt.names != nil {
				want = map[string]Evaluated{}
				for _, name := range tt.names {
					want[name] = onePass[name]
				}
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("results differ from one pass (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantPasses, passes); diff != "" {
				t.Errorf("machines per pass (-want +got):\n%s", diff)
			}
		})
	}
}

func TestEvaluateWarnings(t *testing.T) {
	n := testNix(t)
	got, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs: nixtest.NixpkgsPath(),
		Machines: []Machine{
			{Name: "a", Modules: []Module{{Inline: `{ warnings = [ "first" "second\nline" ]; }`}}},
			{Name: "b"},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{"a": {"warning: first", "warning: second\nline"}, "b": nil}
	gotWarnings := map[string][]string{}
	for name, ev := range got {
		gotWarnings[name] = ev.Warnings
	}
	if diff := cmp.Diff(want, gotWarnings); diff != "" {
		t.Errorf("warnings (-want +got):\n%s", diff)
	}
}

func TestEvaluateBrokenNixpkgs(t *testing.T) {
	n := testNix(t)
	nixpkgs := t.TempDir()
	if err := os.MkdirAll(filepath.Join(nixpkgs, "nixos", "lib"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(nixpkgs, "nixos", "lib", "eval-config.nix"), []byte(`throw "this nixpkgs is broken"`), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := n.Evaluate(context.Background(), EvalOptions{Nixpkgs: nixpkgs, Machines: fleet(t), Resources: fleetResources(), KeepGoing: true})
	var me *MachineError
	if err == nil || errors.As(err, &me) || !strings.Contains(err.Error(), "before any machine") || !strings.Contains(err.Error(), "this nixpkgs is broken") {
		t.Errorf("want a deployment-wide error with Nix's message, got %v", err)
	}
}

func TestEvaluateChecksOptions(t *testing.T) {
	dir := fleetDir(t)
	ok := Module{Path: filepath.Join(dir, "common.nix")}
	tests := []struct {
		name string
		opts EvalOptions
		want string
	}{
		{"duplicate", EvalOptions{Machines: []Machine{{Name: "a"}, {Name: "a"}}}, "two machines are named a"},
		{"unnamed", EvalOptions{Machines: []Machine{{}}}, "a machine has no name"},
		{"relative module", EvalOptions{Machines: []Machine{{Name: "a", Modules: []Module{{Path: "x.nix"}}}}}, `machine a: module path "x.nix" is not absolute`},
		{"missing module", EvalOptions{Machines: []Machine{{Name: "a", Modules: []Module{ok, {Path: filepath.Join(dir, "nope.nix")}}}}}, "machine a: module stat " + filepath.Join(dir, "nope.nix")},
		{"empty module", EvalOptions{Machines: []Machine{{Name: "a", Modules: []Module{{}}}}}, "machine a: module 1 has neither a path nor inline text"},
		{"unknown name", EvalOptions{Machines: []Machine{{Name: "a"}}, Names: []string{"b"}}, "no machine is named b"},
		{"relative nixpkgs", EvalOptions{Nixpkgs: "nixpkgs"}, `nixpkgs "nixpkgs" is not an absolute path`},
		{"not nixpkgs", EvalOptions{Nixpkgs: dir}, "has no nixos/lib/eval-config.nix"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// These fail before running Nix, so no Nix is needed.
			_, err := Nix{Bin: "/nonexistent"}.Evaluate(context.Background(), tt.opts)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// Without Nixpkgs, <nixpkgs> comes from NIX_PATH.
func TestEvaluateNixPath(t *testing.T) {
	n := testNix(t)
	n.Env = []string{"NIX_PATH=nixpkgs=" + nixtest.NixpkgsPath()}
	got, err := n.Evaluate(context.Background(), EvalOptions{Machines: []Machine{{Name: "a"}}})
	if err != nil || !strings.HasSuffix(got["a"].OutPath, "-nixos-system-a-24.05.ferrystub") {
		t.Errorf("got %+v, %v", got, err)
	}
}
