package fakecloud

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

func TestHostEndpointsFromThePool(t *testing.T) {
	pool := []any{
		map[string]any{"host": "127.0.0.5", "port": spec.Number(2222), "host_key": "ssh-ed25519 AAAAkey5"},
		map[string]any{"host": "127.0.0.6"},
	}
	c := configure(t, New(), "", map[string]any{"hosts": pool})

	// Planned: the endpoint is known only after apply.
	p, err := resource(c, HostType).Plan(t.Context(), providers.PlanRequest{Addr: "fake.host.a", Config: map[string]any{}})
	if err != nil {
		t.Fatal(err)
	}
	for _, a := range []string{"host", "port", "host_key", "id"} {
		if _, ok := p.Planned[a].(spec.Unknown); !ok {
			t.Errorf("planned %s = %v, want (known after apply)", a, p.Planned[a])
		}
	}

	a := mustCreate(t, c, HostType, "fake.host.a", "tok-a", map[string]any{})
	b := mustCreate(t, c, HostType, "fake.host.b", "tok-b", map[string]any{})
	got := map[string]any{"a": endpoint(a), "b": endpoint(b)}
	want := map[string]any{
		"a": []any{"127.0.0.5", spec.Number(2222), "ssh-ed25519 AAAAkey5"},
		"b": []any{"127.0.0.6", spec.Number(22), nil},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("endpoints handed out in order (-want +got):\n%s", d)
	}

	// The pool is used up; a retried create with a token finds its object.
	if _, err := create(t, c, HostType, "fake.host.c", "tok-c", map[string]any{}); err == nil || !strings.Contains(err.Error(), "no free endpoint") {
		t.Errorf("create with the pool used up: %v, want no free endpoint", err)
	}
	if again := mustCreate(t, c, HostType, "fake.host.a", "tok-a", map[string]any{}); again["id"] != a["id"] || again["host"] != a["host"] {
		t.Errorf("retried create made %v, want the object %v", again, a)
	}

	// A deleted host frees its endpoint for the next create.
	if _, err := resource(c, HostType).Apply(t.Context(), providers.ApplyRequest{Addr: "fake.host.a", Action: providers.Delete, Prior: a}); err != nil {
		t.Fatal(err)
	}
	c2 := mustCreate(t, c, HostType, "fake.host.c", "tok-c2", map[string]any{})
	if c2["host"] != "127.0.0.5" {
		t.Errorf("after deleting a, c got %v, want a's endpoint 127.0.0.5", c2["host"])
	}
}

func endpoint(st map[string]any) []any { return []any{st["host"], st["port"], st["host_key"]} }

func TestHostPoolRefusesBadEntries(t *testing.T) {
	tests := []struct {
		name  string
		hosts any
		want  string
	}{
		{"not a list", "127.0.0.5", `argument "hosts" must be a list of dicts`},
		{"no host", []any{map[string]any{"port": spec.Number(22)}}, `entry 0 needs "host", a non-empty string`},
		{"unknown key", []any{map[string]any{"host": "h", "addr": "x"}}, `entry 0: unknown key "addr"; an entry takes host, port, host_key`},
		{"bad port", []any{map[string]any{"host": "h", "port": spec.Number(0)}}, `entry 0: argument "port" = 0: want a whole number from 1`},
		{"bad key", []any{map[string]any{"host": "h", "host_key": spec.Number(1)}}, `entry 0: "host_key" must be a string`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), providers.ConfigureRequest{Config: map[string]any{"region": "r1", "hosts": tt.hosts}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Configure error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}
