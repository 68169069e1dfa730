package engine_test

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

func gvAt(line int) spec.Pos { return spec.Pos{File: "ferry.star", Line: line, Col: 1} }

func gvRef(addr string) spec.Ref { return spec.Ref{Addr: addr, Attr: "id"} }

func gvRes(name string, line int, args map[string]any, dependsOn ...string) *spec.Resource {
	return &spec.Resource{Addr: "null.resource." + name, Type: "null.resource", Name: name, Args: args, DependsOn: dependsOn, Pos: gvAt(line)}
}

func gvMach(name string, line int, mods []spec.Module, dependsOn ...string) *spec.Machine {
	return &spec.Machine{Name: name, Addr: "machine." + name, Target: spec.Target{Kind: "ssh", Host: name}, Modules: mods, DependsOn: dependsOn, Pos: gvAt(line)}
}

func gvMod(line int, args map[string]any) spec.Module {
	return spec.Module{Inline: "{ }", Args: args, Pos: spec.Pos{File: "hosts.star", Line: line, Col: 5}}
}

func TestGraphViewBuildConfigGraph(t *testing.T) {
	tests := []struct {
		name string
		cfg  *spec.Config
		// edges as "from -> to" in Edges order; deps of some addresses.
		wantEdges []string
		wantDeps  map[string][]string
		wantErr   string
	}{
		{
			name: "resources: references and depends_on",
			cfg: &spec.Config{Resources: []*spec.Resource{
				gvRes("a", 1, nil),
				gvRes("b", 2, map[string]any{"triggers": map[string]any{"a": gvRef("null.resource.a")}}),
				gvRes("c", 3, nil, "null.resource.b", "null.resource.a", "null.resource.b"),
			}},
			wantEdges: []string{"null.resource.a -> null.resource.b", "null.resource.a -> null.resource.c", "null.resource.b -> null.resource.c"},
			wantDeps:  map[string][]string{"null.resource.a": nil, "null.resource.c": {"null.resource.a", "null.resource.b"}},
		},
		{
			name: "machines: depends_on, module args, and a resource after a machine",
			cfg: &spec.Config{
				Resources: []*spec.Resource{
					gvRes("cert", 1, nil),
					gvRes("dns", 2, nil, "machine.web"),
				},
				Machines: []*spec.Machine{
					gvMach("db", 3, nil),
					gvMach("web", 4, []spec.Module{gvMod(5, map[string]any{"cert": gvRef("null.resource.cert"), "n": []any{gvRef("null.resource.cert")}})}, "machine.db"),
				},
			},
			wantEdges: []string{"null.resource.cert -> machine.web", "machine.db -> machine.web", "machine.web -> null.resource.dns"},
			wantDeps:  map[string][]string{"machine.web": {"machine.db", "null.resource.cert"}, "null.resource.dns": {"machine.web"}, "machine.db": nil},
		},
		{
			name: "machines: target and jump host references",
			cfg: &spec.Config{
				Resources: []*spec.Resource{gvRes("host", 1, nil), gvRes("bastion", 2, nil), gvRes("key", 3, nil)},
				Machines: []*spec.Machine{{Name: "web", Addr: "machine.web", Pos: gvAt(4),
					Target: spec.Target{Kind: "ssh", Pos: gvAt(5),
						Refs: map[string]any{"host": gvRef("null.resource.host"), "host_key": spec.Format{Template: "ssh-ed25519 {}", Args: []any{gvRef("null.resource.key")}}},
						Jump: &spec.Target{Kind: "ssh", Pos: gvAt(6), Refs: map[string]any{"host": gvRef("null.resource.bastion")}}}}},
			},
			wantEdges: []string{"null.resource.host -> machine.web", "null.resource.bastion -> machine.web", "null.resource.key -> machine.web"},
			wantDeps:  map[string][]string{"machine.web": {"null.resource.bastion", "null.resource.host", "null.resource.key"}},
		},
		{
			name: "target refers to an undeclared resource, at the target's position",
			cfg: &spec.Config{Machines: []*spec.Machine{{Name: "web", Addr: "machine.web", Pos: gvAt(4),
				Target: spec.Target{Kind: "ssh", Pos: spec.Pos{File: "hosts.star", Line: 9, Col: 14}, Refs: map[string]any{"host": gvRef("fake.host.gone")}}}}},
			wantErr: "hosts.star:9:14: machine.web refers to fake.host.gone, which is not declared",
		},
		{
			name:    "resource refers to an undeclared address",
			cfg:     &spec.Config{Resources: []*spec.Resource{gvRes("a", 1, nil, "null.resource.typo")}},
			wantErr: "ferry.star:1:1: null.resource.a refers to null.resource.typo, which is not declared",
		},
		{
			name: "machine depends_on and module args undeclared, reported together at their positions",
			cfg: &spec.Config{
				Resources: []*spec.Resource{gvRes("a", 1, nil, "machine.ghost")},
				Machines: []*spec.Machine{
					gvMach("web", 4, []spec.Module{gvMod(7, map[string]any{"x": gvRef("null.resource.nope")})}, "machine.dbb"),
				},
			},
			wantErr: "ferry.star:1:1: null.resource.a refers to machine.ghost, which is not declared\n" +
				"ferry.star:4:1: machine.web refers to machine.dbb, which is not declared\n" +
				"hosts.star:7:5: machine.web refers to null.resource.nope, which is not declared",
		},
		{
			name:    "machine refers to itself",
			cfg:     &spec.Config{Machines: []*spec.Machine{gvMach("web", 4, nil, "machine.web")}},
			wantErr: "ferry.star:4:1: reference cycle: machine.web refers to itself",
		},
		{
			name: "cycle through resources and machines",
			cfg: &spec.Config{
				Resources: []*spec.Resource{
					gvRes("a", 1, nil, "machine.web"),
					gvRes("b", 2, map[string]any{"v": gvRef("null.resource.a")}),
					gvRes("unrelated", 3, map[string]any{"v": gvRef("null.resource.b")}),
				},
				Machines: []*spec.Machine{gvMach("web", 4, []spec.Module{gvMod(5, map[string]any{"b": gvRef("null.resource.b")})})},
			},
			wantErr: "ferry.star:1:1: reference cycle: null.resource.a (ferry.star:1:1) -> null.resource.b (ferry.star:2:1) -> machine.web (ferry.star:4:1) -> null.resource.a (ferry.star:1:1)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cg, err := engine.BuildConfigGraph(tt.cfg)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error:\n%v\nwant:\n%s", err, tt.wantErr)
				}
				if _, ok := spec.AsDiagnostic(err); !ok && !strings.Contains(tt.wantErr, "\n") {
					t.Errorf("error %v is not a diagnostic", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range cg.Graph.Edges() {
				got = append(got, e[0]+" -> "+e[1])
			}
			if diff := cmp.Diff(tt.wantEdges, got); diff != "" {
				t.Errorf("edges (-want +got):\n%s", diff)
			}
			for addr, want := range tt.wantDeps {
				if diff := cmp.Diff(want, cg.Deps[addr]); diff != "" {
					t.Errorf("deps of %s (-want +got):\n%s", addr, diff)
				}
			}
			// Every declared address is a node with its position, resources
			// first.
			var nodes []string
			for _, r := range tt.cfg.Resources {
				nodes = append(nodes, r.Addr)
			}
			for _, m := range tt.cfg.Machines {
				nodes = append(nodes, m.Addr)
			}
			if diff := cmp.Diff(nodes, cg.Graph.Nodes()); diff != "" {
				t.Errorf("nodes (-want +got):\n%s", diff)
			}
			for _, n := range nodes {
				if cg.Pos[n].IsZero() {
					t.Errorf("no position for %s", n)
				}
			}
		})
	}
}

func TestGraphViewConfigDOT(t *testing.T) {
	cfg := &spec.Config{
		Resources: []*spec.Resource{gvRes("cert", 1, nil)},
		Machines: []*spec.Machine{
			gvMach("db", 3, nil),
			gvMach("web", 4, []spec.Module{gvMod(5, map[string]any{"cert": gvRef("null.resource.cert")})}, "machine.db"),
		},
	}
	cg, err := engine.BuildConfigGraph(cfg)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := cg.WriteDOT(&buf); err != nil {
		t.Fatal(err)
	}
	want := `digraph "ferry" {
  n0 [label="null.resource.cert"];
  n1 [label="machine.db", shape="box"];
  n2 [label="machine.web", shape="box"];
  n0 -> n2;
  n1 -> n2;
}
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("config DOT (-want +got):\n%s", diff)
	}
}

func TestGraphViewPlanDOT(t *testing.T) {
	deploy := func(name string, batch int) *plan.Machine {
		return &plan.Machine{Name: name, Addr: "machine." + name, Action: plan.Deploy, Batch: batch}
	}
	p := &plan.Plan{
		Resources: []*plan.Resource{
			{Addr: "null.resource.a", Type: "null.resource", Action: plan.Create},
			{Addr: "null.resource.same", Type: "null.resource", Action: plan.Noop},
		},
		Machines: []*plan.Machine{
			deploy("db", 1), deploy("web1", 2), deploy("web2", 2),
			{Name: "idle", Addr: "machine.idle", Action: plan.Noop},
			{Name: "old", Addr: "machine.old", Action: plan.Forget},
		},
		Edges: [][2]string{{"machine.db", "machine.web1"}, {"null.resource.a", "machine.db"}},
		Rollout: &plan.Rollout{
			Batch: 2, MaxFailures: 1, Pause: "30s",
			Batches: [][]string{{"machine.db"}, {"machine.web1", "machine.web2"}},
		},
	}
	var buf bytes.Buffer
	if err := engine.WritePlanDOT(&buf, p); err != nil {
		t.Fatal(err)
	}
	want := `digraph "ferry" {
  n0 [label="create null.resource.a"];
  n4 [label="forget machine.old", shape="box"];
  n5 [label="gate rollout.batch-1 (max_failures 1, pause 30s)", shape="diamond"];
  subgraph "cluster_0" {
    label="rollout batch 1 of 2";
    n1 [label="deploy machine.db", shape="box"];
  }
  subgraph "cluster_1" {
    label="rollout batch 2 of 2";
    n2 [label="deploy machine.web1", shape="box"];
    n3 [label="deploy machine.web2", shape="box"];
  }
  n0 -> n1;
  n1 -> n2;
  n5 -> n2;
  n5 -> n3;
  n1 -> n5 [style=dashed];
}
`
	if diff := cmp.Diff(want, buf.String()); diff != "" {
		t.Errorf("plan DOT (-want +got):\n%s", diff)
	}
	// The graph drawn is the graph apply walks: the noops are not in it.
	g, gates := engine.PlanGraph(p)
	if g.Has("null.resource.same") || g.Has("machine.idle") || gates[plan.GateAddr(1)] != 1 {
		t.Errorf("PlanGraph nodes %v, gates %v", g.Nodes(), gates)
	}
}

func TestGraphViewValidate(t *testing.T) {
	e := newEnv(t, memStore)
	e.write("web.nix", "{ cert, ... }: { }\n")
	// Machines and their references are checked without Nix.
	e.write("ferry.star", `cert = null.resource(name = "cert")
db = machine(name = "db", target = ssh(host = "10.0.0.3"))
web = machine(
    name = "web",
    target = ssh(host = "10.0.0.2"),
    modules = [nix.module("./web.nix", args = {"cert": cert.id})],
    depends_on = [db, "machine.cache"],
)
null.resource(name = "after_web", depends_on = [web])
`)
	cfg, err := e.tryLoad(nil)
	if err != nil {
		t.Fatal(err)
	}
	err = e.eng.Validate(context.Background(), cfg)
	wantErr(t, err, "ferry.star:3:7: machine.web refers to machine.cache, which is not declared")

	// A resource may depend on a machine; the providers still check
	// every resource's arguments.
	e.write("ferry.star", `db = machine(name = "db", target = ssh(host = "10.0.0.3"))
null.resource(name = "after_db", depends_on = [db])
`)
	if cfg, err = e.tryLoad(nil); err != nil {
		t.Fatal(err)
	}
	if err := e.eng.Validate(context.Background(), cfg); err != nil {
		t.Errorf("Validate of a resource depending on a machine: %v", err)
	}
	e.write("ferry.star", `db = machine(name = "db", target = ssh(host = "10.0.0.3"))
local.file(name = "f", path = "f.txt", content = "x", mode = "rw", depends_on = [db])
`)
	if cfg, err = e.tryLoad(nil); err != nil {
		t.Fatal(err)
	}
	err = e.eng.Validate(context.Background(), cfg)
	wantErr(t, err, `local.file.f: attribute "mode" = "rw" is not a file mode`)
	// Nothing was read or written in the state store.
	if deps, err := e.store.Deployments(context.Background()); err != nil || len(deps) != 0 {
		t.Errorf("after Validate, the store lists %v (%v)", deps, err)
	}
}
