package plan_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
)

// targetPlan has a machine whose target comes from a resource created by
// the plan (its jump host's user too), and a deferred machine.
func targetPlan() *plan.Plan {
	p := smallPlan()
	ref := func(attr string) spec.Ref { return spec.Ref{Addr: "fake.host.web", Attr: attr} }
	p.Machines = []*plan.Machine{
		{Name: "web", Addr: "machine.web", Action: plan.Deploy, Activate: "switch", Deps: []string{"fake.host.web"},
			Target: plan.Target{User: "root", Refs: map[string]any{"host": ref("host"), "port": ref("port"), "host_key": ref("host_key")},
				Jump: &plan.Target{Host: "bastion", Port: 22, Refs: map[string]any{"user": spec.Format{Template: "u-{}", Args: []any{ref("id")}}}}}},
		{Name: "app", Addr: "machine.app", Action: plan.Deferred, Reason: "its module args use fake.host.web.id, known only after apply",
			Target: plan.Target{Host: "10.0.0.9", Port: 22, User: "root"}},
	}
	return p
}

func TestTargetRefsRoundTrip(t *testing.T) {
	data := mustEncode(t, targetPlan())
	for _, frag := range []string{`"$ref": "fake.host.web.host"`, `"$format": {`, `"action": "deferred"`} {
		if !strings.Contains(string(data), frag) {
			t.Errorf("the plan file has no %s:\n%s", frag, data)
		}
	}
	got, err := plan.Decode("plan.json", data)
	if err != nil {
		t.Fatal(err)
	}
	want := targetPlan()
	want.Normalize()
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Decode(Encode(p)) (-want +got):\n%s", d)
	}
	if !bytes.Equal(data, mustEncode(t, got)) {
		t.Error("re-encoding a decoded plan changes it")
	}
	if got.Machine("machine.web").Target.Known() || !got.Machine("machine.app").Target.Known() {
		t.Error("Known: want web's target unknown (it has refs), app's known")
	}
	if d := cmp.Diff(map[string]string{"machine.app": "its module args use fake.host.web.id, known only after apply"}, got.Deferred()); d != "" {
		t.Errorf("Deferred (-want +got):\n%s", d)
	}
	if c := got.Count(); c.Deferred != 1 || c.Deploy != 1 || c.Unchanged != 0 {
		t.Errorf("counts %+v: want 1 deploy, 1 deferred", c)
	}
}

func TestDecodeRefusesBadTargets(t *testing.T) {
	for _, tt := range []struct{ name, from, to, want string }{
		{"an argument that is never deferred", `"host_key": {`, `"sudo": {`, `target argument "sudo" cannot be known only after apply`},
		{"an unknown field", `"user": "root"`, `"user": "root", "color": "red"`, `unknown field "color"`},
	} {
		t.Run(tt.name, func(t *testing.T) {
			data := string(mustEncode(t, targetPlan()))
			if !strings.Contains(data, tt.from) {
				t.Fatalf("the plan file has no %s", tt.from)
			}
			_, err := plan.Decode("p.json", []byte(strings.Replace(data, tt.from, tt.to, 1)))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Decode: %v, want %q", err, tt.want)
			}
		})
	}
}
