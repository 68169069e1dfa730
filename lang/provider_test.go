package lang

import (
	"context"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// TestLoadProviderContract checks what the configuration side of the
// provider contract puts into spec.Config: provider configurations, the
// meta-arguments of resources, and format values wherever values go.
func TestLoadProviderContract(t *testing.T) {
	main := `main = cloud.provider(region = "eu-west-1")
eu = cloud.provider(alias = "eu", region = "eu-central-1", profile = "prod", endpoints = {"ec2": "https://ec2.local"})
keep = lifecycle(prevent_destroy = True, ignore_changes = ["tags"])
web = cloud.instance(
    "web",
    image = "nixos",
    provider = eu,
    lifecycle = keep,
    timeouts = {"create": "20m", "delete": "1h30m"},
    import_id = "i-0123",
)
db = cloud.instance("db", image = "nixos", user_data = format("web={}:{}", web.public_ip, 8080), lifecycle = {"create_before_destroy": True})
t = ssh(host = web.public_ip, port = web.ssh_port, host_key = web.host_key, jump = ssh(host = format("{}.bastion", db.id), user = db.id))
machine("web", t, modules = [nix.inline("{ }")])
machine("web2", t, modules = [nix.module("./m.nix", args = {"peer": format("http://{}/", web.public_ip)})])
output("url", format("http://{}:{}/{{x}}", web.public_ip, web.ssh_port))
`
	dir := writeFiles(t, map[string]string{"ferry.star": main, "m.nix": "{ ... }: { }\n"})
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas(), Providers: testProviders()})
	if err != nil {
		t.Fatal(err)
	}
	pos := func(line, col int) spec.Pos { return spec.Pos{File: "ferry.star", Line: line, Col: col} }
	ref := func(addr, attr string) spec.Ref { return spec.Ref{Addr: addr, Attr: attr} }
	webIP := ref("cloud.instance.web", "public_ip")

	wantProviders := []*spec.ProviderConfig{
		{Name: "cloud", Args: map[string]any{"region": "eu-west-1", "retries": spec.Number(3)}, Pos: pos(1, 8)},
		{Name: "cloud", Alias: "eu", Args: map[string]any{
			"region": "eu-central-1", "profile": "prod", "retries": spec.Number(3),
			"endpoints": map[string]any{"ec2": "https://ec2.local"},
		}, Pos: pos(2, 6)},
	}
	if diff := cmp.Diff(wantProviders, cfg.Providers); diff != "" {
		t.Errorf("providers (-want +got):\n%s", diff)
	}

	wantResources := []*spec.Resource{
		{
			Addr: "cloud.instance.web", Type: "cloud.instance", Name: "web",
			Args:      map[string]any{"image": "nixos", "size": "small"},
			Provider:  "cloud.eu",
			Lifecycle: spec.Lifecycle{PreventDestroy: true, IgnoreChanges: []string{"tags"}},
			Timeouts:  spec.Timeouts{Create: 20 * time.Minute, Delete: 90 * time.Minute},
			ImportID:  "i-0123",
			Pos:       pos(4, 7),
		},
		{
			Addr: "cloud.instance.db", Type: "cloud.instance", Name: "db",
			Args: map[string]any{"image": "nixos", "size": "small",
				"user_data": spec.Format{Template: "web={}:8080", Args: []any{webIP}}},
			Lifecycle: spec.Lifecycle{CreateBeforeDestroy: true},
			Pos:       pos(12, 6),
		},
	}
	if diff := cmp.Diff(wantResources, cfg.Resources); diff != "" {
		t.Errorf("resources (-want +got):\n%s", diff)
	}
	if got := cfg.Resources[1].ProviderKey(); got != "cloud" {
		t.Errorf("db uses provider %q, want the default cloud", got)
	}

	dbID := ref("cloud.instance.db", "id")
	wantTarget := spec.Target{
		Kind: "ssh", User: "root",
		Refs: map[string]any{"host": webIP, "port": ref("cloud.instance.web", "ssh_port"), "host_key": ref("cloud.instance.web", "host_key")},
		Jump: &spec.Target{Kind: "ssh", Port: 22,
			Refs:     map[string]any{"host": spec.Format{Template: "{}.bastion", Args: []any{dbID}}, "user": dbID},
			Defaults: []string{"port"},
			Pos:      pos(13, 84)},
		Defaults: []string{"user"},
		Pos:      pos(13, 5),
	}
	for _, m := range cfg.Machines {
		if diff := cmp.Diff(wantTarget, m.Target); diff != "" {
			t.Errorf("%s target (-want +got):\n%s", m.Addr, diff)
		}
	}
	if diff := cmp.Diff(map[string]any{"peer": spec.Format{Template: "http://{}/", Args: []any{webIP}}}, cfg.Machines[1].Modules[0].Args); diff != "" {
		t.Errorf("module args (-want +got):\n%s", diff)
	}
	wantOut := []*spec.Output{{Name: "url", Value: spec.Format{Template: "http://{}:{}/{{x}}", Args: []any{webIP, ref("cloud.instance.web", "ssh_port")}}, Pos: pos(16, 1)}}
	if diff := cmp.Diff(wantOut, cfg.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}

	// Machines sharing a target share no maps, nor do their jump hosts.
	a, b := cfg.Machines[0].Target, cfg.Machines[1].Target
	a.Refs["host"] = "changed"
	a.Jump.Refs["user"] = "changed"
	if b.Refs["host"] != webIP || b.Jump.Refs["user"] != dbID {
		t.Errorf("machine web2's target changed with web's: %v, jump %v", b.Refs, b.Jump.Refs)
	}
	// The engine finds a target's dependencies with spec.Refs.
	wantRefs := []spec.Ref{dbID}
	if diff := cmp.Diff(wantRefs, spec.Refs(b.Jump.Refs)); diff != "" {
		t.Errorf("refs of the jump target (-want +got):\n%s", diff)
	}
}

// TestProviderOptionErrors checks mistakes in Options.Providers and in
// schemas that clash with the provider contract.
func TestProviderOptionErrors(t *testing.T) {
	cfg := func(attrs ...spec.Attr) *spec.Schema { return &spec.Schema{Type: "cloud.provider", Attrs: attrs} }
	str := spec.KindString
	tests := []struct {
		name string
		opts Options
		want string
	}{
		{"bad name", Options{Providers: []ProviderSchema{{Name: "a-b"}}}, `lang: provider name "a-b" is not a Starlark identifier`},
		{"named nix", Options{Providers: []ProviderSchema{{Name: "nix", Config: cfg()}}}, `lang: provider name "nix" is ferry's own module (nix.module, nix.inline); register the provider under another name`},
		{"twice", Options{Providers: []ProviderSchema{{Name: "cloud"}, {Name: "cloud", Config: cfg()}}}, `lang: provider "cloud" is listed twice in Options.Providers`},
		{"alias attribute", Options{Providers: []ProviderSchema{{Name: "cloud", Config: cfg(spec.Attr{Name: "alias", Kind: str, Optional: true})}}}, `lang: cloud.provider: attribute name "alias" is reserved (it names the configuration: cloud.provider(alias = ...))`},
		{"bad config kind", Options{Providers: []ProviderSchema{{Name: "cloud", Config: cfg(spec.Attr{Name: "region", Kind: "text"})}}}, `lang: cloud.provider: attribute "region" has unknown kind "text"`},
		{"type named provider", Options{Schemas: []spec.Schema{{Type: "cloud.provider"}}}, `lang: resource type "cloud.provider": the member name "provider" is reserved for provider configurations (cloud.provider(...)); name the type otherwise`},
		{"meta-argument attribute", Options{Schemas: []spec.Schema{{Type: "a.b", Attrs: []spec.Attr{{Name: "lifecycle", Kind: str, Optional: true}}}}}, `lang: a.b: attribute name "lifecycle" is reserved (every resource takes lifecycle = ...)`},
		{"name attribute", Options{Schemas: []spec.Schema{{Type: "a.b", Attrs: []spec.Attr{{Name: "name", Kind: str, Optional: true}}}}}, `lang: a.b: attribute name "name" is reserved (r.name is built in)`},
		{"clash with format()", Options{Providers: []ProviderSchema{{Name: "format", Config: cfg()}}}, `lang: format() and providers and resource types (Options.Providers, Options.Schemas) both define "format"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.opts.Dir = "/x"
			_, err := Load(context.Background(), tt.opts)
			if err == nil {
				t.Fatal("Load succeeded")
			}
			if diff := cmp.Diff(tt.want, err.Error()); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}
