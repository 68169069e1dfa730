package engine_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
	"github.com/nixferry/ferry/providers/fakecloud"
	"github.com/nixferry/ferry/providers/local"
	"github.com/nixferry/ferry/providers/null"
	timeprovider "github.com/nixferry/ferry/providers/time"
)

// Machines whose targets come from resources: fake.host (providers/
// fakecloud) hands out a test host from its configuration's pool, with the
// host key the "cloud" reports, and the machine is reached through those
// attributes (testdata/machines/targets.star, deferred.star).

// withFakeCloud registers the fake cloud beside the built-in providers, as
// the CLI's tests do, and makes file the configuration's entry file.
func (m *machineEnv) withFakeCloud(file string) *fakecloud.Provider {
	m.t.Helper()
	fc := fakecloud.New()
	reg, err := providers.NewRegistry(checked.WrapProvider(null.Provider()), checked.WrapProvider(timeprovider.Provider()),
		checked.WrapProvider(local.Provider(m.dir)), checked.WrapProvider(fc))
	if err != nil {
		m.t.Fatal(err)
	}
	m.eng.Providers = reg
	m.langProviders = []lang.ProviderSchema{{Name: fc.Name(), Config: fc.ConfigSchema()}}
	m.file = file
	return fc
}

func hasEdge(p *plan.Plan, from, to string) bool {
	return slices.Contains(p.Edges, [2]string{from, to})
}

// eventIndex is the index of the first event of kind for addr (whose
// message contains msg), -1 if none.
func eventIndex(evs []engine.Event, kind engine.EventKind, addr, msg string) int {
	for i, ev := range evs {
		if ev.Kind == kind && ev.Addr == addr && strings.Contains(ev.Message, msg) {
			return i
		}
	}
	return -1
}

// TestMachinesTargetFromResource: a machine on a fake.host the plan
// creates. The plan cannot read the host and shows its endpoint as known
// after apply, with the machine after the resource; apply creates the
// host, pins the key the provider reported, then deploys; the next plan
// reads the host like any other; destroy forgets the machine before it
// deletes the host.
func TestMachinesTargetFromResource(t *testing.T) {
	m := newMachineEnv(t, "web")
	fc := m.withFakeCloud("targets.star")
	web := m.host("web")
	m.vars["web_pool_key"] = web.HostKey

	var p *plan.Plan
	ok := t.Run("plan", func(t *testing.T) {
		before := m.logins()
		p = m.plan(engine.PlanOptions{})
		if n := loginDelta(before, m.logins())["web"]; n != 0 {
			t.Errorf("plan logged in to the host %d time(s): a host known only after apply is not read", n)
		}
		pm := plannedMachine(t, p, "web")
		if pm.Action != plan.Deploy || pm.Drv == "" {
			t.Fatalf("machine.web: action %s, drv %q; want a deploy of an evaluated system", pm.Action, pm.Drv)
		}
		ref := func(attr string) spec.Ref { return spec.Ref{Addr: "fake.host.web", Attr: attr} }
		want := plan.Target{User: "root", Refs: map[string]any{"host": ref("host"), "port": ref("port"), "host_key": ref("host_key")}}
		if d := cmp.Diff(want, pm.Target); d != "" {
			t.Errorf("planned target, as read back from the plan file (-want +got):\n%s", d)
		}
		if !strings.Contains(pm.Reason, "fake.host.web will be created") {
			t.Errorf("reason %q does not say the host is created by this plan", pm.Reason)
		}
		if !hasEdge(p, "fake.host.web", "machine.web") {
			t.Errorf("edges %v: want fake.host.web -> machine.web", p.Edges)
		}
		if !slices.Contains(pm.Deps, "fake.host.web") {
			t.Errorf("deps %v: want fake.host.web", pm.Deps)
		}
	})
	if !ok {
		return
	}

	ok = t.Run("apply pins the provider's key before the first login", func(t *testing.T) {
		m.takeEvents()
		res := m.applyOK(p)
		evs := m.takeEvents()
		if res.Added != 1 || res.Deployed != 1 {
			t.Errorf("added %d, deployed %d; want 1 and 1", res.Added, res.Deployed)
		}
		if got, want := m.current("web"), plannedMachine(t, p, "web").Path; got != want {
			t.Errorf("web runs %q, want %q", got, want)
		}
		created := eventIndex(evs, engine.EventDone, "fake.host.web", "")
		resolved := eventIndex(evs, engine.EventProgress, "machine.web", "target resolved: root@"+fmt.Sprintf("%s:%d", web.Addr, web.Port)+" (host key from fake.host.web.host_key, pinned before the first login)")
		if created < 0 || resolved < created {
			t.Errorf("fake.host.web created at event %d, machine.web's target resolved at %d: want the host first", created, resolved)
		}
		rec := m.state().Machines["machine.web"]
		if rec == nil {
			t.Fatal("no state record of machine.web")
		}
		if want := fmt.Sprintf("root@%s:%d", web.Addr, web.Port); rec.Target != want || rec.HostKey != web.HostKey {
			t.Errorf("recorded target %q key %q, want %q with the host's key", rec.Target, rec.HostKey, want)
		}
		if !slices.Equal(rec.Deps, []string{"fake.host.web"}) {
			t.Errorf("recorded deps %v, want [fake.host.web]", rec.Deps)
		}
	})
	if !ok {
		return
	}

	t.Run("the next plan reads the host", func(t *testing.T) {
		p2 := m.plan(engine.PlanOptions{})
		pm := plannedMachine(t, p2, "web")
		if p2.HasChanges() || !pm.CurrentRead {
			t.Errorf("plan after apply: changes %v, current read %v; want no changes and the host read", p2.HasChanges(), pm.CurrentRead)
		}
		if pm.Target.Host != web.Addr || pm.Target.Port != web.Port || pm.Target.HostKey != web.HostKey || !pm.Target.Known() {
			t.Errorf("target %+v: want the host's endpoint and key, known", pm.Target)
		}
	})

	t.Run("destroy forgets the machine before it deletes its host", func(t *testing.T) {
		pd := m.plan(engine.PlanOptions{Destroy: true})
		if !hasEdge(pd, "machine.web", "fake.host.web") {
			t.Errorf("destroy edges %v: want machine.web -> fake.host.web", pd.Edges)
		}
		m.takeEvents()
		m.applyOK(pd)
		evs := m.takeEvents()
		checkOrder(t, pd, evs)
		forgotten := eventIndex(evs, engine.EventDone, "machine.web", "")
		deleting := eventIndex(evs, engine.EventStart, "fake.host.web", "")
		if forgotten < 0 || deleting < forgotten {
			t.Errorf("machine.web forgotten at event %d, fake.host.web deleted from %d: want the machine first", forgotten, deleting)
		}
		st := m.state()
		if len(st.Machines) != 0 || len(st.Resources) != 0 {
			t.Errorf("state after destroy: machines %v, resources %v", st.Machines, st.Addrs())
		}
		if objs, err := fc.Memory("web").List(fakecloud.HostType); err != nil || len(objs) != 0 {
			t.Errorf("fake cloud still holds %d fake.host (%v)", len(objs), err)
		}
	})
}

// TestMachinesTargetKeyMismatch: the provider reports a host key the host
// does not have. The host is created, but ferry refuses it before logging
// in: nothing is activated and no machine is recorded.
func TestMachinesTargetKeyMismatch(t *testing.T) {
	m := newMachineEnv(t, "web", "other")
	m.withFakeCloud("targets.star")
	m.vars["web_pool_key"] = m.host("other").HostKey
	p := m.plan(engine.PlanOptions{})
	before := m.logins()
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, "machine.web", 0, "refused before logging in: the host does not have the key fake.host.web.host_key reported", "host key mismatch")
	if res.Added != 1 {
		t.Errorf("added %d, want the fake.host created", res.Added)
	}
	if n := loginDelta(before, m.logins())["web"]; n != 0 {
		t.Errorf("the host accepted %d login(s): want it refused before any", n)
	}
	if cur := m.current("web"); cur != "" || len(m.activations("web")) != 0 {
		t.Errorf("web runs %q after %v: want nothing activated", cur, m.activations("web"))
	}
	if rec := m.state().Machines["machine.web"]; rec != nil {
		t.Errorf("state records machine.web: %+v", rec)
	}
}

// TestMachinesDeferred: a machine whose module args use the id of the
// host the plan creates is deferred, not evaluated; applying the plan
// creates the host and names the machine; the next plan deploys it with
// the id. A machine that reaches the value through `resources` instead is
// deferred by its evaluation.
func TestMachinesDeferred(t *testing.T) {
	for _, tt := range []struct {
		name, through, reason string
	}{
		{"module args", "", "its module args use fake.host.app.id, known only after apply (fake.host.app will be created)"},
		{"resources", "resources", "its system uses fake.host.app.id, known only after apply (fake.host.app will be created)"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			m := newMachineEnv(t, "app")
			m.withFakeCloud("deferred.star")
			app := m.host("app")
			m.vars["app_pool_key"] = app.HostKey
			if tt.through != "" {
				m.vars["through"] = tt.through
			}

			p := m.plan(engine.PlanOptions{})
			pm := plannedMachine(t, p, "app")
			if pm.Action != plan.Deferred || pm.Drv != "" || pm.Reason != tt.reason {
				t.Fatalf("machine.app: action %s, drv %q, reason %q; want deferred, not evaluated, because %q", pm.Action, pm.Drv, pm.Reason, tt.reason)
			}
			for _, e := range p.Edges {
				if e[0] == "machine.app" || e[1] == "machine.app" {
					t.Errorf("edge %v: a deferred machine takes no part in apply", e)
				}
			}
			if c := p.Count(); c.Deferred != 1 || c.Deploy != 0 || c.Add != 1 {
				t.Errorf("counts %+v: want 1 to add and 1 deferred", c)
			}

			res := m.applyOK(p)
			if res.Added != 1 || res.Deployed != 0 || res.Deferred["machine.app"] != tt.reason {
				t.Errorf("apply: added %d, deployed %d, deferred %v; want the host created and the machine named", res.Added, res.Deployed, res.Deferred)
			}
			if cur := m.current("app"); cur != "" {
				t.Errorf("app runs %q: a deferred machine is not deployed", cur)
			}

			p2 := m.plan(engine.PlanOptions{})
			pm2 := plannedMachine(t, p2, "app")
			if pm2.Action != plan.Deploy || pm2.Target.Host != app.Addr || pm2.Target.HostKey != app.HostKey {
				t.Fatalf("next plan: machine.app %s to %+v; want a deploy to the host", pm2.Action, pm2.Target)
			}
			m.applyOK(p2)
			id, _ := m.state().Resources["fake.host.app"].Attrs["id"].(string)
			if got, want := m.hostConfig("app")["domain"], id+".fake.example"; id == "" || got != want {
				t.Errorf("app's domain %v, want %q from the host's id", got, want)
			}
		})
	}
}

// TestPower: ferry stop and start go to the provider of the resource that
// is a machine's host and record its new state; a machine whose target
// names no such resource, or one not created yet, fails with what to do,
// and the others go on.
func TestPower(t *testing.T) {
	m := newMachineEnv(t, "web")
	fc := m.withFakeCloud("targets.star")
	web := m.host("web")
	m.vars["web_pool_key"] = web.HostKey
	m.applyOK(m.plan(engine.PlanOptions{}))
	cfg, err := m.load()
	if err != nil {
		t.Fatal(err)
	}
	onHost := *cfg.MachineByName("web")
	onHost.Target.Resource = "fake.host.web" // as aws.ec2 declares it
	literal := onHost
	literal.Addr, literal.Target.Resource = "machine.literal", ""
	missing := onHost
	missing.Addr, missing.Target.Resource = "machine.missing", "fake.host.nothing"

	for _, tc := range []struct {
		op   providers.PowerOp
		want string
	}{{providers.PowerStop, "stopped"}, {providers.PowerStart, "running"}} {
		before := fc.Stats("web").Calls["fake.host.power"]
		res, err := m.eng.Power(t.Context(), cfg, machinesDeployment, []*spec.Machine{&onHost, &literal, &missing}, tc.op, 4, 0)
		if err != nil {
			t.Fatalf("%s: %v", tc.op, err)
		}
		if res[0].Err != nil || res[0].State != tc.want {
			t.Errorf("%s web: state %q, error %v; want %q", tc.op, res[0].State, res[0].Err, tc.want)
		}
		if res[1].Err == nil || !strings.Contains(res[1].Err.Error(), "a host ferry did not create") {
			t.Errorf("%s of a machine on a literal host: %v", tc.op, res[1].Err)
		}
		if res[2].Err == nil || !strings.Contains(res[2].Err.Error(), "does not exist yet: run ferry plan and ferry apply") {
			t.Errorf("%s of a machine whose host is not created: %v", tc.op, res[2].Err)
		}
		if got := m.state().Resources["fake.host.web"].Attrs["state"]; got != tc.want {
			t.Errorf("after %s, state records state %v, want %q", tc.op, got, tc.want)
		}
		if n := fc.Stats("web").Calls["fake.host.power"] - before; n != 1 {
			t.Errorf("%s made %d power calls, want 1", tc.op, n)
		}
	}
}
