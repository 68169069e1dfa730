package machines

import (
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers/nix"
)

// A valid ed25519 key (of no host).
const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"

func TestResolveTargetRefs(t *testing.T) {
	ref := func(attr string) spec.Ref { return spec.Ref{Addr: "fake.host.web", Attr: attr} }
	configured := plan.Target{User: "root", Refs: map[string]any{
		"host": ref("host"), "port": ref("port"), "host_key": ref("host_key"),
		"user": spec.Format{Template: "u-{}", Args: []any{ref("id")}},
	}}
	lookup := func(attrs map[string]any) func(spec.Ref) (any, bool) {
		return func(r spec.Ref) (any, bool) {
			v, ok := attrs[r.Attr]
			return v, ok
		}
	}
	good := map[string]any{"host": "10.0.0.5", "port": spec.Number(2222), "host_key": testHostKey + " comment", "id": "h1"}

	got, unknown, err := resolveTargetRefs(configured, lookup(good))
	if err != nil || len(unknown) != 0 {
		t.Fatalf("resolve: %v, unknown %v", err, unknown)
	}
	want := plan.Target{Host: "10.0.0.5", Port: 2222, User: "u-h1", HostKey: testHostKey}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("resolved (-want +got):\n%s", d)
	}

	// Known in part: the rest stays in Refs, named.
	got, unknown, err = resolveTargetRefs(configured, lookup(map[string]any{"host": "10.0.0.5"}))
	if err != nil {
		t.Fatal(err)
	}
	if got.Host != "10.0.0.5" || got.Known() || len(got.Refs) != 3 {
		t.Errorf("partly resolved: %+v", got)
	}
	wantUnknown := []string{`port = fake.host.web.port`, `user = format("u-{}", fake.host.web.id)`, `host_key = fake.host.web.host_key`}
	if d := cmp.Diff(wantUnknown, unknown); d != "" {
		t.Errorf("unknown (-want +got):\n%s", d)
	}

	userOnly := plan.Target{Host: "h", Port: 22, Refs: map[string]any{"user": spec.Format{Template: "{}", Args: []any{ref("id")}}}}
	for _, tt := range []struct {
		name   string
		target plan.Target // configured when zero
		set    map[string]any
		want   string
	}{
		{"empty host", plan.Target{}, map[string]any{"host": ""}, `target argument host = fake.host.web.host: is empty`},
		{"host with a user", plan.Target{}, map[string]any{"host": "root@h"}, `target argument host = fake.host.web.host: is "root@h", which is not a host name`},
		{"host not a string", plan.Target{}, map[string]any{"host": spec.Number(7)}, `host = fake.host.web.host: is 7, not a string`},
		{"port zero", plan.Target{}, map[string]any{"port": spec.Number(0)}, `port = fake.host.web.port: is 0, out of range: want 1 to 65535`},
		{"port too high", plan.Target{}, map[string]any{"port": spec.Number(70000)}, `is 70000, out of range`},
		{"port not a number", plan.Target{}, map[string]any{"port": "22"}, `port = fake.host.web.port: is "22", not a port number`},
		{"empty user", userOnly, map[string]any{"id": ""}, `target argument user = format("{}", fake.host.web.id): is "", which is not a user name`},
		{"host key null", plan.Target{}, map[string]any{"host_key": nil}, `host_key = fake.host.web.host_key: is null: the provider reported no host key`},
		{"host key garbage", plan.Target{}, map[string]any{"host_key": "not a key"}, `host_key = fake.host.web.host_key: parse host key`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			attrs := map[string]any{}
			for k, v := range good {
				attrs[k] = v
			}
			for k, v := range tt.set {
				attrs[k] = v
			}
			target := tt.target
			if target.Refs == nil {
				target = configured
			}
			_, _, err := resolveTargetRefs(target, lookup(attrs))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestResolveTargetKeepsDefaultsOfKnownArguments(t *testing.T) {
	got := ResolveTarget(spec.Target{Kind: "ssh", Refs: map[string]any{"host": spec.Ref{Addr: "fake.host.web", Attr: "host"}}})
	want := plan.Target{Port: 22, User: "root", Refs: map[string]any{"host": spec.Ref{Addr: "fake.host.web", Attr: "host"}}}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	got = ResolveTarget(spec.Target{Kind: "ssh", Host: "h", Refs: map[string]any{"port": spec.Ref{Addr: "fake.host.web", Attr: "port"}}})
	if got.Port != 0 || got.User != "root" {
		t.Errorf("a port known only after apply got the default: %+v", got)
	}
}

// TestNixTargetSSHConfig: a target from deployment.* options goes through
// the SSH client configuration as ssh() targets do: the host is looked
// up, and port and user apply only where Nix left them unset; From says
// which came from where.
func TestNixTargetSSHConfig(t *testing.T) {
	sshConfig := func(t *spec.Target) error { // as ~/.ssh/config: Host web-alias HostName 10.0.0.9 Port 2200 User me
		if t.Host == "web-alias" {
			t.Host = "10.0.0.9"
			if slices.Contains(t.Defaults, "port") {
				t.Port = 2200
			}
			if slices.Contains(t.Defaults, "user") {
				t.User = "me"
			}
		}
		return nil
	}
	for _, tt := range []struct {
		name string
		d    *nix.Deployment
		want plan.Target
	}{
		{"alias", &nix.Deployment{TargetHost: "web-alias"}, plan.Target{Host: "10.0.0.9", Port: 2200, User: "me",
			From: "host from deployment.targetHost, 10.0.0.9 by ssh_config, port 2200 (ssh_config), user me (ssh_config)"}},
		{"Nix wins", &nix.Deployment{TargetHost: "web-alias", TargetPort: 22, TargetUser: "root"}, plan.Target{Host: "10.0.0.9", Port: 22, User: "root",
			From: "host from deployment.targetHost, 10.0.0.9 by ssh_config, port from deployment.targetPort, user from deployment.targetUser"}},
		{"the machine's name", nil, plan.Target{Host: "web", Port: 22, User: "root",
			From: "host web (the machine's name: deployment.targetHost is unset), port 22 (default), user root (default)"}},
	} {
		got, err := NixTarget("web", tt.d, sshConfig)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(tt.want, got); d != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, d)
		}
	}
}
