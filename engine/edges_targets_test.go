package engine_test

import (
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
)

// TestForgetBeforeDeleteOfTargetResources: a machine is forgotten before
// the resources its target refers to are deleted (edges.go, rule 5): in a
// destroy, from the configuration; for a machine no longer configured,
// from the dependencies state recorded for it.
func TestForgetBeforeDeleteOfTargetResources(t *testing.T) {
	const config = `deployment(name = "test")
host = null.resource(name = "host")
other = null.resource(name = "other")
machine(name = "web", target = ssh(host = host.id), modules = [nix.inline("{ }")])
`
	applied := func() *state.State {
		st := state.New(testDeployment)
		st.Resources["null.resource.host"] = &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "1", "triggers": nil}}
		st.Resources["null.resource.other"] = &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "2", "triggers": nil}}
		st.Machines = map[string]*state.Machine{"machine.web": {Target: "root@1:22", Path: "/nix/store/x-system", Deps: []string{"null.resource.host"}}}
		return st
	}
	for _, tt := range []struct {
		name   string
		config string
		opts   engine.PlanOptions
		want   [][2]string
	}{
		{"destroy, as configured", config, engine.PlanOptions{Destroy: true}, [][2]string{{"machine.web", "null.resource.host"}}},
		{"destroy of the host alone forgets its machine", config, engine.PlanOptions{Destroy: true, Targets: []string{"null.resource.host"}}, [][2]string{{"machine.web", "null.resource.host"}}},
		{"removed from the configuration, as state recorded", `deployment(name = "test")` + "\n", engine.PlanOptions{}, [][2]string{{"machine.web", "null.resource.host"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			e.write("ferry.star", tt.config)
			tt.opts.Deployment = testDeployment
			p, err := e.eng.BuildPlan(t.Context(), e.load(nil), applied(), tt.opts)
			if err != nil {
				t.Fatal(err)
			}
			if pm := p.Machine("machine.web"); pm == nil || pm.Action != plan.Forget {
				t.Fatalf("machine.web planned %+v, want forget", pm)
			}
			if d := cmp.Diff(tt.want, p.Edges); d != "" {
				t.Errorf("edges (-want +got):\n%s", d)
			}
		})
	}
}
