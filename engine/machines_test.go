package engine_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	_ "gocloud.dev/blob/fileblob"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/local"
	"github.com/nixferry/ferry/providers/nix"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/providers/null"
	timeprovider "github.com/nixferry/ferry/providers/time"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// End-to-end tests of machines: the real lang, the real Nix with the stub
// nixpkgs, file:// state, and test hosts (sshd in their own namespaces,
// each with its own /nix and /run) reached over ferry's own SSH. Every run
// uses a fresh remote.Dialer and goes through a plan file, as `ferry plan
// --out plan.json` followed by `ferry apply plan.json` would.

// machinesDeployment is the deployment of testdata/machines/ferry.star.
const machinesDeployment = "machines"

// machineEnv is a copy of testdata/machines, a fleet of test hosts named
// after its machines, file:// state and an engine wired as the CLI wires
// it.
type machineEnv struct {
	t     testing.TB
	dir   string
	file  string // entry file, relative to dir
	fleet *testhosts.Fleet
	store *statestore.Store
	// stateDir holds the file:// state.
	stateDir string
	eng      *engine.Engine
	vars     map[string]string
	// applyOpts are the options of every apply (Dir and Config are set).
	applyOpts engine.ApplyOptions

	// langProviders are the providers that take a configuration, for
	// lang (withFakeCloud sets them).
	langProviders []lang.ProviderSchema

	mu     sync.Mutex
	events []engine.Event
	// onEvent, when set, sees every event as it happens.
	onEvent func(engine.Event)
}

// newMachineEnv starts one test host per name and points the NAME_host
// and NAME_port vars at them.
func newMachineEnv(t testing.TB, names ...string) *machineEnv {
	t.Helper()
	return newMachineEnvFleet(t, testhosts.Options{Names: names})
}

// newMachineEnvFleet is newMachineEnv with the fleet opts describe (Base
// is set here); hosts added later get no vars.
func newMachineEnvFleet(t testing.TB, opts testhosts.Options) *machineEnv {
	t.Helper()
	nixtest.RequireNix(t)
	t.Setenv("NIX_PATH", "nixpkgs="+nixtest.NixpkgsPath())
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS(filepath.Join("testdata", "machines"))); err != nil {
		t.Fatalf("copy testdata/machines: %v", err)
	}
	opts.Base = filepath.Join(t.TempDir(), "hosts")
	fleet, err := testhosts.Start(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Stop(); err != nil {
			t.Errorf("stop test hosts: %v", err)
		}
	})
	stateDir := filepath.Join(t.TempDir(), "state")
	store, err := statestore.Open(context.Background(), "file://"+filepath.ToSlash(stateDir))
	if err != nil {
		t.Fatalf("open state store: %v", err)
	}
	t.Cleanup(func() { _ = store.Close() })
	reg, err := providers.NewRegistry(null.Provider(), timeprovider.Provider(), local.Provider(dir))
	if err != nil {
		t.Fatal(err)
	}
	m := &machineEnv{t: t, dir: dir, file: "ferry.star", fleet: fleet, store: store, stateDir: stateDir, vars: map[string]string{}}
	m.eng = &engine.Engine{
		Providers: reg,
		Store:     store,
		Version:   "test",
		Nix:       nix.Nix{Options: nixtest.Options()},
		Events: func(ev engine.Event) {
			m.mu.Lock()
			m.events = append(m.events, ev)
			hook := m.onEvent
			m.mu.Unlock()
			if hook != nil {
				hook(ev)
			}
		},
	}
	for _, h := range fleet.Hosts {
		m.vars[h.Name+"_host"] = h.Addr
		m.vars[h.Name+"_port"] = strconv.Itoa(h.Port)
	}
	return m
}

func (m *machineEnv) host(name string) testhosts.Host {
	m.t.Helper()
	h, ok := m.fleet.Host(name)
	if !ok {
		m.t.Fatalf("no test host %s", name)
	}
	return h
}

// takeEvents returns the events seen since the last call.
func (m *machineEnv) takeEvents() []engine.Event {
	m.mu.Lock()
	defer m.mu.Unlock()
	out := m.events
	m.events = nil
	return out
}

// edit rewrites a file of the configuration folder.
func (m *machineEnv) edit(name string, change func(string) string) {
	m.t.Helper()
	p := filepath.Join(m.dir, name)
	b, err := os.ReadFile(p)
	if err != nil {
		m.t.Fatal(err)
	}
	after := change(string(b))
	if after == string(b) {
		m.t.Fatalf("edit of %s changed nothing", name)
	}
	if err := os.WriteFile(p, []byte(after), 0o644); err != nil {
		m.t.Fatal(err)
	}
}

func (m *machineEnv) load() (*spec.Config, error) {
	return lang.Load(context.Background(), lang.Options{
		Dir:       m.dir,
		File:      m.file,
		Vars:      m.vars,
		Schemas:   m.eng.Providers.Schemas(),
		Providers: m.langProviders,
		Print:     func(spec.Pos, string) {},
	})
}

// withDialer runs f with a fresh SSH connection pool, as one ferry
// process has, and closes it afterwards.
func (m *machineEnv) withDialer(f func()) {
	d := remote.NewDialer(m.fleet.DialerOptions())
	m.eng.SSH = d
	defer func() {
		m.eng.SSH = nil
		_ = d.Close()
	}()
	f()
}

// tryPlan loads the configuration, plans it, and returns the plan as read
// back from its file.
func (m *machineEnv) tryPlan(opts engine.PlanOptions) (*plan.Plan, error) {
	cfg, err := m.load()
	if err != nil {
		return nil, err
	}
	opts.Deployment = machinesDeployment
	if opts.Parallelism == 0 {
		opts.Parallelism = 10 // the CLI's default
	}
	var p *plan.Plan
	m.withDialer(func() { p, err = m.eng.Plan(context.Background(), cfg, opts) })
	if err != nil {
		return nil, err
	}
	data, err := plan.Encode(p)
	if err != nil {
		return nil, err
	}
	file := filepath.Join(m.dir, "plan.json")
	if err := os.WriteFile(file, data, 0o644); err != nil {
		return nil, err
	}
	if data, err = os.ReadFile(file); err != nil {
		return nil, err
	}
	return plan.Decode(file, data)
}

func (m *machineEnv) plan(opts engine.PlanOptions) *plan.Plan {
	m.t.Helper()
	p, err := m.tryPlan(opts)
	if err != nil {
		m.t.Fatalf("plan: %v", err)
	}
	return p
}

// apply applies p; the error is Apply's, the result's is left to the test.
func (m *machineEnv) apply(p *plan.Plan) (*engine.ApplyResult, error) {
	var (
		res *engine.ApplyResult
		err error
	)
	cfg, err := m.load()
	if err != nil {
		return nil, err
	}
	opts := m.applyOpts
	opts.Dir, opts.Config = m.dir, cfg
	m.withDialer(func() {
		res, err = m.eng.Apply(context.Background(), p, opts)
	})
	return res, err
}

// applyOK applies p and fails the test unless everything was applied.
func (m *machineEnv) applyOK(p *plan.Plan) *engine.ApplyResult {
	m.t.Helper()
	res, err := m.apply(p)
	if err == nil {
		err = res.Err()
	}
	if err != nil {
		m.t.Fatalf("apply: %v", err)
	}
	return res
}

// applyFailing applies p and returns the *engine.ApplyError it must end with.
func (m *machineEnv) applyFailing(p *plan.Plan) (*engine.ApplyResult, *engine.ApplyError) {
	m.t.Helper()
	res, err := m.apply(p)
	if err != nil {
		m.t.Fatalf("apply: %v", err)
	}
	var ae *engine.ApplyError
	if !errors.As(res.Err(), &ae) {
		m.t.Fatalf("apply succeeded, want an *engine.ApplyError")
	}
	return res, ae
}

func (m *machineEnv) state() *state.State {
	m.t.Helper()
	st, _, err := m.store.Read(context.Background(), machinesDeployment)
	if err != nil {
		m.t.Fatalf("read state: %v", err)
	}
	return st
}

// current is what the host's /run/current-system points to.
func (m *machineEnv) current(name string) string {
	m.t.Helper()
	cur, err := m.host(name).CurrentSystem()
	if err != nil {
		m.t.Fatal(err)
	}
	return cur
}

// profile is what the host's system profile resolves to.
func (m *machineEnv) profile(name string) string {
	m.t.Helper()
	p, err := m.host(name).SystemProfile()
	if err != nil {
		m.t.Fatal(err)
	}
	return p
}

// logins counts the SSH connections every host accepted so far.
func (m *machineEnv) logins() map[string]int {
	m.t.Helper()
	out := map[string]int{}
	for _, h := range m.fleet.Hosts {
		n, err := h.AcceptedLogins()
		if err != nil {
			m.t.Fatal(err)
		}
		out[h.Name] = n
	}
	return out
}

// activations lists the "ACTION SYSTEM" lines the stub's
// switch-to-configuration appended on the host.
func (m *machineEnv) activations(name string) []string {
	m.t.Helper()
	b, err := os.ReadFile(filepath.Join(m.host(name).Root, "run", "ferry-test", "activations"))
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		m.t.Fatal(err)
	}
	return strings.Split(strings.TrimSpace(string(b)), "\n")
}

// hostConfig reads etc/ferry-config.json of the system the host runs, from
// the host's own store.
func (m *machineEnv) hostConfig(name string) map[string]any {
	m.t.Helper()
	h := m.host(name)
	cur := m.current(name)
	if cur == "" {
		m.t.Fatalf("%s runs no system", name)
	}
	b, err := os.ReadFile(h.StorePath(filepath.Join(cur, "etc", "ferry-config.json")))
	if err != nil {
		m.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		m.t.Fatalf("%s: etc/ferry-config.json: %v", name, err)
	}
	return out
}

func plannedMachine(t testing.TB, p *plan.Plan, name string) *plan.Machine {
	t.Helper()
	pm := p.Machine(spec.MachineAddr(name))
	if pm == nil {
		t.Fatalf("plan has no machine %s", name)
	}
	return pm
}

// machineActions maps every planned machine's name to its action.
func machineActions(p *plan.Plan) map[string]plan.Action {
	out := map[string]plan.Action{}
	for _, pm := range p.Machines {
		out[pm.Name] = pm.Action
	}
	return out
}

// machineCopiedRE matches the progress event after a closure copy.
var machineCopiedRE = regexp.MustCompile(`^copied (\d+) of (\d+) paths`)

// copies returns, per machine address, the "copied N of M" of the events.
func copiedPaths(evs []engine.Event) map[string][2]int {
	out := map[string][2]int{}
	for _, ev := range evs {
		if ev.Kind != engine.EventProgress {
			continue
		}
		if g := machineCopiedRE.FindStringSubmatch(ev.Message); g != nil {
			n, _ := strconv.Atoi(g[1])
			total, _ := strconv.Atoi(g[2])
			out[ev.Addr] = [2]int{n, total}
		}
	}
	return out
}

// closure is the local closure of a store path.
func storeClosure(t testing.TB, path string) []string {
	t.Helper()
	out, err := exec.Command("nix-store", "--query", "--requisites", path).Output()
	if err != nil {
		t.Fatalf("nix-store -qR %s: %v", path, err)
	}
	return strings.Fields(string(out))
}

// loginDelta is how many SSH connections each host accepted between two
// counts.
func loginDelta(before, after map[string]int) map[string]int {
	out := map[string]int{}
	for name, n := range after {
		out[name] = n - before[name]
	}
	return out
}

func perHost(names []string, n int) map[string]int {
	out := map[string]int{}
	for _, name := range names {
		out[name] = n
	}
	return out
}

var threeMachines = []string{"gitServer", "proxy", "storage"}

// TestMachinesDeploy deploys three machines, re-plans without a change,
// then changes one machine's module: each step checks what the hosts run,
// what state records, what travelled and how many SSH connections it took.
func TestMachinesDeploy(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)

	var first *plan.Plan
	var serial uint64
	ok := t.Run("deploy", func(t *testing.T) {
		before := m.logins()
		first = m.plan(engine.PlanOptions{})
		if d := cmp.Diff(perHost(threeMachines, 1), loginDelta(before, m.logins())); d != "" {
			t.Errorf("SSH connections per host during plan (-want +got):\n%s", d)
		}
		want := map[string]plan.Action{"gitServer": plan.Deploy, "proxy": plan.Deploy, "storage": plan.Deploy}
		if d := cmp.Diff(want, machineActions(first)); d != "" {
			t.Fatalf("planned actions (-want +got):\n%s", d)
		}
		for _, pm := range first.Machines {
			if !pm.CurrentRead || pm.Current != "" {
				t.Errorf("%s: planned against current system %q (read %v), want none read from the fresh host", pm.Name, pm.Current, pm.CurrentRead)
			}
			if pm.Target.HostKey != m.host(pm.Name).HostKey {
				t.Errorf("%s: plan pins host key %q, want the key the host presented %q", pm.Name, pm.Target.HostKey, m.host(pm.Name).HostKey)
			}
		}
		m.takeEvents()
		before = m.logins()
		res := m.applyOK(first)
		if d := cmp.Diff(perHost(threeMachines, 1), loginDelta(before, m.logins())); d != "" {
			t.Errorf("SSH connections per host during apply (-want +got):\n%s", d)
		}
		if res.Deployed != 3 {
			t.Errorf("apply deployed %d machines, want 3", res.Deployed)
		}
		evs := m.takeEvents()
		cp := copiedPaths(evs)
		st := m.state()
		serial = st.Serial
		for _, name := range threeMachines {
			pm := plannedMachine(t, first, name)
			if got := m.current(name); got != pm.Path {
				t.Errorf("%s: /run/current-system = %q, want the planned %q", name, got, pm.Path)
			}
			if got := m.profile(name); got != pm.Path {
				t.Errorf("%s: system profile = %q, want %q", name, got, pm.Path)
			}
			if n := len(storeClosure(t, pm.Path)); cp[pm.Addr] != [2]int{n, n} {
				t.Errorf("%s: copied %v paths (of the closure), want all %d", name, cp[pm.Addr], n)
			}
			rec := st.Machines[pm.Addr]
			if rec == nil {
				t.Errorf("state has no record of %s", pm.Addr)
				continue
			}
			h := m.host(name)
			want := state.Machine{
				Target: fmt.Sprintf("root@%s:%d", h.Addr, h.Port), HostKey: h.HostKey,
				Drv: pm.Drv, Path: pm.Path, Activation: "switch", Generation: 1,
				DeployedAt: rec.DeployedAt, DeclaredAt: rec.DeclaredAt,
				Status: state.StatusVerified, StatusAt: rec.StatusAt,
			}
			if d := cmp.Diff(want, *rec); d != "" {
				t.Errorf("state record of %s (-want +got):\n%s", name, d)
			}
			if rec.DeployedAt.IsZero() || !strings.HasPrefix(rec.DeclaredAt, "ferry.star:") {
				t.Errorf("state record of %s: deployed at %v, declared at %q", name, rec.DeployedAt, rec.DeclaredAt)
			}
		}
	})
	if !ok {
		return
	}

	t.Run("nodes", func(t *testing.T) {
		// proxy.nix reads the port from nodes.gitServer.config.
		cfg := m.hostConfig("proxy")
		var vhosts any = cfg
		for _, k := range []string{"services", "nginx", "virtualHosts"} {
			obj, _ := vhosts.(map[string]any)
			vhosts = obj[k]
		}
		var want any = map[string]any{"git": map[string]any{"locations": map[string]any{
			"/": map[string]any{"proxyPass": fmt.Sprintf("http://%s:3042", m.host("gitServer").Addr)}}}}
		if d := cmp.Diff(want, vhosts); d != "" {
			t.Errorf("proxy's nginx virtual hosts (-want +got):\n%s", d)
		}
	})

	t.Run("no change", func(t *testing.T) {
		p := m.plan(engine.PlanOptions{})
		want := map[string]plan.Action{"gitServer": plan.Noop, "proxy": plan.Noop, "storage": plan.Noop}
		if d := cmp.Diff(want, machineActions(p)); d != "" {
			t.Errorf("planned actions (-want +got):\n%s", d)
		}
		if c := p.Count(); c.Deploy != 0 || p.HasChanges() {
			t.Errorf("plan counts %+v, has changes %v; want nothing to deploy", c, p.HasChanges())
		}
		for _, pm := range p.Machines {
			if pm.Path != plannedMachine(t, first, pm.Name).Path || pm.Current != pm.Path || pm.Previous != pm.Path {
				t.Errorf("%s: path %s, current %s, previous %s; want all %s", pm.Name, pm.Path, pm.Current, pm.Previous, plannedMachine(t, first, pm.Name).Path)
			}
		}
		m.takeEvents()
		before := m.logins()
		res := m.applyOK(p)
		if d := cmp.Diff(perHost(threeMachines, 0), loginDelta(before, m.logins())); d != "" {
			t.Errorf("SSH connections per host during a no-op apply (-want +got):\n%s", d)
		}
		if cp := copiedPaths(m.takeEvents()); len(cp) != 0 || res.Deployed != 0 {
			t.Errorf("no-op apply deployed %d machines and copied %v, want nothing", res.Deployed, cp)
		}
		if res.Serial != serial {
			t.Errorf("no-op apply moved the state to serial %d, want it kept at %d", res.Serial, serial)
		}
	})

	t.Run("one module changed", func(t *testing.T) {
		m.edit("storage.nix", func(s string) string {
			return strings.Replace(s, "{\n  services.nfs", "{\n  environment.systemPackages = [ pkgs.vim ];\n  services.nfs", 1)
		})
		before := m.state()
		p := m.plan(engine.PlanOptions{})
		want := map[string]plan.Action{"gitServer": plan.Noop, "proxy": plan.Noop, "storage": plan.Deploy}
		if d := cmp.Diff(want, machineActions(p)); d != "" {
			t.Fatalf("planned actions (-want +got):\n%s", d)
		}
		pm := plannedMachine(t, p, "storage")
		wantPkgs := &plan.PackageDiff{Added: []plan.Package{{Name: "vim", Version: "9.0.2116"}}}
		if d := cmp.Diff(wantPkgs, pm.Packages); d != "" {
			t.Errorf("package diff of storage (-want +got):\n%s", d)
		}
		old := pm.Previous
		if old != plannedMachine(t, first, "storage").Path || pm.Current != old {
			t.Errorf("storage planned against previous %s and current %s, want both %s", pm.Previous, pm.Current, plannedMachine(t, first, "storage").Path)
		}

		m.takeEvents()
		logins := m.logins()
		res := m.applyOK(p)
		// One connection for the whole deploy, and one more that proves,
		// after the switch, that new logins still work (the magic
		// rollback's confirmation).
		if d := cmp.Diff(map[string]int{"gitServer": 0, "proxy": 0, "storage": 2}, loginDelta(logins, m.logins())); d != "" {
			t.Errorf("SSH connections per host (-want +got):\n%s", d)
		}
		if !pm.MagicRollback || pm.ConfirmTimeout != "30s" {
			t.Errorf("storage: magic rollback %v within %q, want on within 30s (the default)", pm.MagicRollback, pm.ConfirmTimeout)
		}
		if res.Deployed != 1 {
			t.Errorf("apply deployed %d machines, want 1", res.Deployed)
		}
		newPaths := slices.DeleteFunc(storeClosure(t, pm.Path), func(s string) bool { return slices.Contains(storeClosure(t, old), s) })
		total := len(storeClosure(t, pm.Path))
		if len(newPaths) == 0 || len(newPaths) >= total {
			t.Fatalf("the new system shares nothing or everything with the old one (%d of %d paths new)", len(newPaths), total)
		}
		if d := cmp.Diff(map[string][2]int{pm.Addr: {len(newPaths), total}}, copiedPaths(m.takeEvents())); d != "" {
			t.Errorf("copied paths per machine (-want +got):\n%s", d)
		}
		if got := m.current("storage"); got != pm.Path {
			t.Errorf("storage runs %s, want %s", got, pm.Path)
		}
		after := m.state()
		if rec := after.Machines[pm.Addr]; rec == nil || rec.Path != pm.Path || rec.Drv != pm.Drv || rec.Generation != 2 {
			t.Errorf("state record of storage: %+v, want path %s, drv %s, generation 2", rec, pm.Path, pm.Drv)
		}
		for _, name := range []string{"gitServer", "proxy"} {
			addr := spec.MachineAddr(name)
			if d := cmp.Diff(before.Machines[addr], after.Machines[addr]); d != "" {
				t.Errorf("state record of %s changed (-before +after):\n%s", name, d)
			}
			if got := m.current(name); got != plannedMachine(t, first, name).Path {
				t.Errorf("%s runs %s, want it left at %s", name, got, plannedMachine(t, first, name).Path)
			}
		}
	})
}

// deployAll plans and applies the configuration as it is and returns the
// plan.
func (m *machineEnv) deployAll() *plan.Plan {
	m.t.Helper()
	p := m.plan(engine.PlanOptions{})
	m.applyOK(p)
	m.takeEvents()
	return p
}

// failedOnly checks that the apply failed exactly at addr, with every
// fragment in the ApplyError's message, and deployed the other machines.
func wantOnlyFailed(t *testing.T, res *engine.ApplyResult, ae *engine.ApplyError, addr string, deployed int, fragments ...string) {
	t.Helper()
	if got := slices.Sorted(maps.Keys(res.Failed)); !slices.Equal(got, []string{addr}) {
		t.Errorf("failed machines: %v, want only %s", got, addr)
	}
	if len(res.Skipped) != 0 || len(res.Cancelled) != 0 {
		t.Errorf("skipped %v, cancelled %v: want the others deployed", res.Skipped, res.Cancelled)
	}
	if res.Deployed != deployed {
		t.Errorf("deployed %d machines, want %d", res.Deployed, deployed)
	}
	msg := ae.Error()
	for _, f := range append([]string{addr + ": "}, fragments...) {
		if !strings.Contains(msg, f) {
			t.Errorf("apply error does not contain %q:\n%s", f, msg)
		}
	}
}

// TestMachinesActivationFailure: a machine whose switch-to-configuration
// fails is reported with the tail of its output, keeps its state record,
// and does not hold the others back.
func TestMachinesActivationFailure(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	first := m.deployAll()
	before := m.state()

	// Every machine gets a new system; storage's fails to activate.
	m.edit("common.nix", func(s string) string { return strings.Replace(s, "pkgs.htop", "pkgs.htop pkgs.hello", 1) })
	m.vars["storage_extra"] = "{ ferry.test.failActivation = true; }"
	p := m.plan(engine.PlanOptions{})
	if c := p.Count(); c.Deploy != 3 {
		t.Fatalf("plan deploys %d machines, want 3", c.Deploy)
	}
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, "machine.storage", 2,
		"switch-to-configuration switch", "exited with status 1",
		"ferry stub: activation of storage failed as requested by ferry.test.failActivation")

	// The record keeps the system storage runs and says the deploy did
	// not finish verified: the next plan deploys it again.
	after := m.state()
	want := *before.Machines["machine.storage"]
	got := after.Machines["machine.storage"]
	want.Status, want.StatusAt = state.StatusUnverified, got.StatusAt
	want.StatusReason = got.StatusReason
	if d := cmp.Diff(&want, got); d != "" {
		t.Errorf("state record of the failed machine (-want +got):\n%s", d)
	}
	if !strings.Contains(got.StatusReason, "activate (switch)") {
		t.Errorf("status reason %q, want the failed activation", got.StatusReason)
	}
	if got, want := m.current("storage"), plannedMachine(t, first, "storage").Path; got != want {
		t.Errorf("storage runs %s, want the system it ran before, %s", got, want)
	}
	for _, name := range []string{"gitServer", "proxy"} {
		pm := plannedMachine(t, p, name)
		if got := m.current(name); got != pm.Path {
			t.Errorf("%s runs %s, want %s", name, got, pm.Path)
		}
		if rec := after.Machines[pm.Addr]; rec == nil || rec.Path != pm.Path || rec.Generation != 2 {
			t.Errorf("state record of %s: %+v, want path %s, generation 2", name, rec, pm.Path)
		}
	}
}

// TestMachinesBuildFailure: a machine whose system fails to build is
// reported with the build log; the others are built, copied and activated.
func TestMachinesBuildFailure(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	m.vars["proxy_extra"] = "{ ferry.test.failBuild = true; }"
	p := m.plan(engine.PlanOptions{})
	m.takeEvents()
	res, ae := m.applyFailing(p)
	pm := plannedMachine(t, p, "proxy")
	wantOnlyFailed(t, res, ae, pm.Addr, 2, "build: build "+pm.Drv)
	var builds []string
	for _, ev := range m.takeEvents() {
		if ev.Kind == engine.EventProgress && ev.Addr == "" {
			builds = append(builds, ev.Message)
		}
	}
	// One nix-store --realise for all three systems.
	want := []string{"building 3 systems in one nix-store --realise", "built 2 of 3 systems"}
	if d := cmp.Diff(want, builds); d != "" {
		t.Errorf("build progress (-want +got):\n%s", d)
	}
	if got := m.current("proxy"); got != "" {
		t.Errorf("proxy runs %s, want nothing", got)
	}
	if m.host("proxy").HasPath(pm.Path) {
		t.Errorf("proxy received %s, which was never built", pm.Path)
	}
	st := m.state()
	if rec := st.Machines[pm.Addr]; rec != nil {
		t.Errorf("state records the failed machine: %+v", rec)
	}
	for _, name := range []string{"gitServer", "storage"} {
		pm := plannedMachine(t, p, name)
		if got := m.current(name); got != pm.Path {
			t.Errorf("%s runs %q, want %s", name, got, pm.Path)
		}
		if rec := st.Machines[pm.Addr]; rec == nil || rec.Path != pm.Path {
			t.Errorf("state record of %s: %+v, want path %s", name, rec, pm.Path)
		}
	}
}

// deadPort is a port on addr where nothing listens.
func unusedPort(t testing.TB, addr string) int {
	t.Helper()
	l, err := net.Listen("tcp", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port
}

// warnings returns the warning events' messages by address.
func warningsByAddr(evs []engine.Event) map[string][]string {
	out := map[string][]string{}
	for _, ev := range evs {
		if ev.Kind == engine.EventWarning {
			out[ev.Addr] = append(out[ev.Addr], ev.Message)
		}
	}
	return out
}

// TestMachinesUnreachableHost: a machine whose target does not answer is
// planned with a warning and reported as failed by apply with the connect
// error; the others deploy.
func TestMachinesUnreachableHost(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	h := m.host("storage")
	port := unusedPort(t, h.Addr)
	m.vars["storage_port"] = strconv.Itoa(port)
	p := m.plan(engine.PlanOptions{})
	pm := plannedMachine(t, p, "storage")
	if pm.Action != plan.Deploy || pm.CurrentRead || !strings.Contains(pm.Reason, "host not reachable at plan time") {
		t.Errorf("storage planned as %s (current read %v, reason %q), want deploy with the reason that the host was not reachable", pm.Action, pm.CurrentRead, pm.Reason)
	}
	w := warningsByAddr(m.takeEvents())
	if len(w) != 1 || len(w[pm.Addr]) != 1 || !strings.Contains(w[pm.Addr][0], "connection refused") {
		t.Errorf("plan warnings: %q, want one for %s saying the connection was refused", w, pm.Addr)
	}
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, pm.Addr, 2, fmt.Sprintf("connect: connect to root@%s:%d", h.Addr, port), "connection refused")
	for _, name := range []string{"gitServer", "proxy"} {
		if got, want := m.current(name), plannedMachine(t, p, name).Path; got != want {
			t.Errorf("%s runs %q, want %s", name, got, want)
		}
	}
	if rec := m.state().Machines[pm.Addr]; rec != nil {
		t.Errorf("state records the unreachable machine: %+v", rec)
	}
}

// TestMachinesHostKeyMismatch: a machine whose configured host key is
// another host's fails the plan, naming both fingerprints, before
// anything runs on it.
func TestMachinesHostKeyMismatch(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	wrong := m.host("gitServer").HostKey
	m.vars["storage_host_key"] = wrong
	wantFP, err := remote.Fingerprint(wrong)
	if err != nil {
		t.Fatal(err)
	}
	gotFP, err := remote.Fingerprint(m.host("storage").HostKey)
	if err != nil {
		t.Fatal(err)
	}
	logins := m.logins()
	_, err = m.tryPlan(engine.PlanOptions{})
	if err == nil {
		t.Fatal("plan with a wrong configured host key succeeded")
	}
	var hk *machines.HostKeyError
	if !errors.As(err, &hk) || len(hk.Messages) != 1 {
		t.Errorf("plan error %T %v, want one *machines.HostKeyError", err, err)
	}
	for _, want := range []string{"machine.storage (" + m.host("storage").Address() + ")", "presented key " + gotFP, "pinned " + wantFP} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("plan error %q does not contain %q", err, want)
		}
	}
	if n := loginDelta(logins, m.logins())["storage"]; n != 0 {
		t.Errorf("storage accepted %d logins, want none: the key must be refused before authenticating", n)
	}
	if got := m.current("storage"); got != "" {
		t.Errorf("storage runs %s, want nothing", got)
	}
}

// TestMachinesStaleHost: apply refuses a host whose current system changed
// between plan and apply, before copying anything to it.
func TestMachinesStaleHost(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	p := m.plan(engine.PlanOptions{})
	// Someone else deploys to storage after the plan was made.
	other := "/nix/store/0123456789abcdfghijklmnpqrsvwxyz-nixos-system-storage-someone-else"
	h := m.host("storage")
	if err := os.Symlink(other, filepath.Join(h.Root, "run", "current-system")); err != nil {
		t.Fatal(err)
	}
	pm := plannedMachine(t, p, "storage")
	res, ae := m.applyFailing(p)
	wantOnlyFailed(t, res, ae, pm.Addr, 2, "current system changed since the plan", "planned against (none), now "+other, "ferry plan")
	if got := m.current("storage"); got != other {
		t.Errorf("storage runs %s, want it left at %s", got, other)
	}
	if h.HasPath(pm.Path) || m.activations("storage") != nil {
		t.Errorf("storage received the planned system or activated something: it must be refused first")
	}
	for _, name := range []string{"gitServer", "proxy"} {
		if got, want := m.current(name), plannedMachine(t, p, name).Path; got != want {
			t.Errorf("%s runs %q, want %s", name, got, want)
		}
	}
}

// TestMachinesActivate walks one machine through every --activate action
// and checks what each changes on the host: dry-activate nothing, test the
// running system only, boot the profile only, switch both.
func TestMachinesActivate(t *testing.T) {
	m := newMachineEnv(t, threeMachines...)
	on := []string{"storage"}
	addr := spec.MachineAddr("storage")
	// system gives storage a new system and plans it with the action.
	system := func(domain, activate string) *plan.Machine {
		t.Helper()
		m.vars["storage_extra"] = fmt.Sprintf("{ networking.domain = %q; }", domain)
		p := m.plan(engine.PlanOptions{On: on, Activate: activate})
		if len(p.Machines) != 1 {
			t.Fatalf("plan --on storage has %d machines, want 1", len(p.Machines))
		}
		return plannedMachine(t, p, "storage")
	}
	apply := func(pm *plan.Machine) {
		t.Helper()
		p := m.plan(engine.PlanOptions{On: on, Activate: pm.Activate})
		if got := plannedMachine(t, p, "storage"); got.Path != pm.Path {
			t.Fatalf("re-plan gave %s, want %s", got.Path, pm.Path)
		}
		m.applyOK(p)
	}
	type host struct {
		Current, Profile, LastActivation string
		Record                           state.Machine
	}
	observe := func() host {
		t.Helper()
		acts := m.activations("storage")
		rec := m.state().Machines[addr]
		if rec == nil {
			t.Fatal("state has no record of storage")
		}
		r := *rec
		r.DeployedAt = r.DeployedAt.UTC()
		return host{m.current("storage"), m.profile("storage"), acts[len(acts)-1], r}
	}

	s1 := system("s1.test", "switch")
	if s1.Action != plan.Deploy {
		t.Fatalf("first plan: %s, want deploy", s1.Action)
	}
	m.applyOK(m.plan(engine.PlanOptions{On: on}))
	want := observe()
	if want.Current != s1.Path || want.Profile != s1.Path || want.Record.Generation != 1 {
		t.Fatalf("after switch: %+v, want current system and profile %s, generation 1", want, s1.Path)
	}

	t.Run("dry-activate", func(t *testing.T) {
		s2 := system("s2.test", "dry-activate")
		apply(s2)
		want.LastActivation = "dry-activate " + s2.Path
		if d := cmp.Diff(want, observe()); d != "" {
			t.Errorf("dry-activate changed the host or state (-want +got):\n%s", d)
		}
	})
	t.Run("boot", func(t *testing.T) {
		s3 := system("s3.test", "boot")
		if s3.Action != plan.Deploy {
			t.Fatalf("boot planned as %s, want deploy", s3.Action)
		}
		apply(s3)
		got := observe()
		want.Profile, want.LastActivation = s3.Path, "boot "+s3.Path
		want.Record.Drv, want.Record.Path, want.Record.Activation, want.Record.Generation, want.Record.DeployedAt, want.Record.StatusAt = s3.Drv, s3.Path, "boot", 2, got.Record.DeployedAt, got.Record.StatusAt
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("after boot (-want +got):\n%s", d)
		}
		if again := system("s3.test", "boot"); again.Action != plan.Noop {
			t.Errorf("boot of the system the profile already points to planned as %s (%s), want noop", again.Action, again.Reason)
		}
	})
	t.Run("test", func(t *testing.T) {
		s4 := system("s4.test", "test")
		apply(s4)
		got := observe()
		want.Current, want.LastActivation = s4.Path, "test "+s4.Path
		want.Record.Drv, want.Record.Path, want.Record.Activation, want.Record.DeployedAt, want.Record.StatusAt = s4.Drv, s4.Path, "test", got.Record.DeployedAt, got.Record.StatusAt
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("after test (-want +got):\n%s", d)
		}
	})
	t.Run("switch after test", func(t *testing.T) {
		// The host runs s4 but its profile (what it boots) is s3: a switch
		// to s4 is still to do.
		s4 := system("s4.test", "switch")
		if s4.Action != plan.Deploy {
			t.Fatalf("switch to the system activated with test planned as %s, want deploy (the profile is not set)", s4.Action)
		}
		apply(s4)
		got := observe()
		want.Profile, want.LastActivation = s4.Path, "switch "+s4.Path
		want.Record.Activation, want.Record.Generation, want.Record.DeployedAt, want.Record.StatusAt = "switch", 3, got.Record.DeployedAt, got.Record.StatusAt
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("after switch (-want +got):\n%s", d)
		}
		if again := system("s4.test", "switch"); again.Action != plan.Noop {
			t.Errorf("switch of the running system planned as %s (%s), want noop", again.Action, again.Reason)
		}
	})
}
