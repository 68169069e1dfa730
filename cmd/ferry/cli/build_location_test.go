package cli

import (
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix"
)

// buildHostConfig deploys web with its system built on the test host
// build1; both host keys are configured (pinned).
const buildHostConfig = `deployment(name = "buildloc")
defaults(transfer = "substitute") # does not apply: the system never passes through the deployer

def target(name):
    return ssh(host = var(name + "_host"), port = int(var(name + "_port")), host_key = var(name + "_key"))

machine(name = "web", target = target("web"), build_host = target("build1"),
        modules = [nix.inline("{ networking.domain = \"built.on.build1\"; }")])
`

// plannedPaths reads the system of every machine of a plan file.
func plannedPaths(t *testing.T, file string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var p struct {
		Machines []struct {
			Addr string `json:"address"`
			Path string `json:"path"`
		} `json:"machines"`
	}
	if err := json.Unmarshal(data, &p); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, m := range p.Machines {
		out[m.Addr] = m.Path
	}
	return out
}

// locallyValid reports whether this machine's Nix store holds path.
func locallyValid(path string) bool {
	return exec.Command("nix-store", "--check-validity", path).Run() == nil
}

// TestBuildHost builds web's system on the test host build1 through the
// CLI: the plan shows where, apply copies the derivations to build1,
// builds there, and web fetches the system from build1 directly: build1's
// and web's stores hold it, this machine's does not. The one-time key
// build1 accepted for the copy is gone afterwards, state pins build1's
// key, and a build host presenting another key than the pinned one is
// refused before anything is built.
func TestBuildHost(t *testing.T) {
	hosts := startTestHosts(t, "build1", "web")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(buildHostConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	setHostEnv(t, hosts, dir)
	build1, _ := hosts.Host("build1")
	web, _ := hosts.Host("web")
	t.Setenv("FERRY_VAR_build1_key", build1.HostKey)
	t.Setenv("FERRY_VAR_web_key", web.HostKey)

	planFile := filepath.Join(dir, "plan.json")
	plan := mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	wantLine := "      build:   on " + build1.Addr + " (ssh " + build1.Target().String() + "; host key pinned), fetched by the target from there\n"
	if !strings.Contains(plan.stdout, wantLine) {
		t.Errorf("plan lacks %q:\n%s", wantLine, plan.stdout)
	}
	if strings.Contains(plan.stdout, "transfer:") {
		t.Errorf("plan shows a transfer for a system the target fetches from its build host:\n%s", plan.stdout)
	}
	sys := plannedPaths(t, planFile)["machine.web"]
	if sys == "" {
		t.Fatalf("plan.json pins no system for machine.web")
	}

	applied := mustFerry(t, 0, dir, "", "apply", planFile)
	for _, want := range []string{"web> building on " + build1.Addr, "web> fetching the system from " + build1.Addr} {
		if !strings.Contains(applied.stdout, want) {
			t.Errorf("apply lacks %q:\n%s", want, applied.stdout)
		}
	}
	if cur, _ := web.CurrentSystem(); cur != sys {
		t.Errorf("web runs %q, want %s", cur, sys)
	}
	for name, h := range map[string]string{"build1": "build1", "web": "web"} {
		if out, err := hosts.RunInHost(h, "nix-store", "--check-validity", sys); err != nil {
			t.Errorf("%s's store lacks the system: %v: %s", name, err, out)
		}
	}
	if locallyValid(sys) {
		t.Errorf("this machine's store holds %s: the system went through the deployer", sys)
	}
	keys, err := os.ReadFile(build1.AuthorizedKeysFile())
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(keys), "ferry-copy-") {
		t.Errorf("build1 still accepts the one-time key of the copy:\n%s", keys)
	}
	st := readState(t, dir, "buildloc")
	if rec := st.Machines["machine.web"]; rec == nil || rec.BuildHostKey != build1.HostKey || rec.BuildHost != build1.Target().String() {
		t.Errorf("state records build host %+v, want %s with its key pinned", rec, build1.Target())
	}

	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode") // nothing left to do

	// The build host's pinned key is enforced before the first login.
	t.Setenv("FERRY_VAR_build1_key", web.HostKey)
	refused := mustFerry(t, 1, dir, "", "apply", "--auto-approve", "--replace", "machine.web")
	if out := refused.stdout + refused.stderr; !strings.Contains(out, "connect to the build host "+build1.Addr) || !strings.Contains(out, "host key") {
		t.Errorf("apply with another pinned key for build1 was not refused at the build host:\n%s", out)
	}
}

// TestStorePath deploys a system built elsewhere (here by nix-build, as CI
// would) given by store path: it is not evaluated (no Nix evaluation event
// in the whole run), pushed from this machine's store, and activated; one
// this machine's store lacks is fetched by the host from its substituters,
// or from a fleet cache CI filled that the host trusts for that fetch
// only; a store path that no store holds fails the plan, naming where
// ferry looked.
func TestStorePath(t *testing.T) {
	hosts := startTestHosts(t, "web")
	dir := t.TempDir()
	setHostEnv(t, hosts, dir)
	web, _ := hosts.Host("web")
	t.Setenv("FERRY_VAR_web_key", web.HostKey)
	out, err := exec.Command("nix-build", "--no-out-link", "-E",
		`(import <nixpkgs/nixos/lib/eval-config.nix> { modules = [ { networking.domain = "built.by.ci"; } ]; specialArgs = { }; }).config.system.build.toplevel`).Output()
	if err != nil {
		t.Fatalf("nix-build the CI system: %v", err)
	}
	sys := strings.TrimSpace(string(out))
	config := func(path string) {
		t.Helper()
		star := `deployment(name = "given")
machine(name = "web", target = ssh(host = var("web_host"), port = int(var("web_port")), host_key = var("web_key")),
        store_path = "` + path + `")
`
		if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(star), 0o644); err != nil {
			t.Fatal(err)
		}
	}

	config(sys)
	planFile := filepath.Join(dir, "plan.json")
	plan := mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	if want := "      system:  " + sys + " (given, not evaluated; pushed from this machine's Nix store)\n"; !strings.Contains(plan.stdout, want) {
		t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
	}
	applied := mustFerry(t, 0, dir, "", "apply", "--json", planFile)
	for _, ev := range decodeEvents(t, applied.stdout) {
		if ev.Nix != nil && ev.Nix.Kind == nix.LogEvaluating || strings.Contains(ev.Message, "evaluat") {
			t.Errorf("a system given by store path was evaluated: %+v", ev)
		}
	}
	if cur, _ := web.CurrentSystem(); cur != sys {
		t.Errorf("web runs %q, want %s", cur, sys)
	}
	// Planning again evaluates nothing either, and changes nothing.
	again := mustFerry(t, 0, dir, "", "apply", "--auto-approve", "--json")
	for _, ev := range decodeEvents(t, again.stdout) {
		if ev.Kind == engine.EventNix || strings.Contains(ev.Message, "evaluat") {
			t.Errorf("the second run evaluated: %+v", ev)
		}
	}

	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")

	// A system this machine's store lacks: the host fetches it from the
	// substituters it trusts (here a file:// binary cache).
	out, err = exec.Command("nix-build", "--no-out-link", "-E",
		`(import <nixpkgs/nixos/lib/eval-config.nix> { modules = [ { networking.domain = "cached.by.ci"; } ]; specialArgs = { }; }).config.system.build.toplevel`).Output()
	if err != nil {
		t.Fatalf("nix-build the cached system: %v", err)
	}
	cached := strings.TrimSpace(string(out))
	cache := t.TempDir()
	for _, argv := range [][]string{
		{"nix", "--extra-experimental-features", "nix-command", "copy", "--to", "file://" + cache, cached},
		{"nix-store", "--delete", cached},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	conf := "sandbox = false\nsubstituters = file://" + cache + "\nrequire-sigs = false\n"
	if err := os.WriteFile(filepath.Join(web.Root, "etc-nix", "nix.conf"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	config(cached)
	plan = mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	if want := "      system:  " + cached + " (given, not evaluated; the host fetches it from its substituters)\n"; !strings.Contains(plan.stdout, want) {
		t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", planFile)
	if cur, _ := web.CurrentSystem(); cur != cached {
		t.Errorf("web runs %q, want %s", cur, cached)
	}
	if locallyValid(cached) {
		t.Errorf("this machine's store holds %s again: it was not fetched by the host", cached)
	}

	// A system CI pushed to a signed fleet cache the host does not trust
	// on its own (transfer = nix_cache(substituter, public_key), no url:
	// ferry uploads nothing): the host fetches it from there, trusting the
	// key for that command only.
	out, err = exec.Command("nix-build", "--no-out-link", "-E",
		`(import <nixpkgs/nixos/lib/eval-config.nix> { modules = [ { networking.domain = "fleet.cache.by.ci"; } ]; specialArgs = { }; }).config.system.build.toplevel`).Output()
	if err != nil {
		t.Fatalf("nix-build the fleet-cached system: %v", err)
	}
	fleetCached := strings.TrimSpace(string(out))
	fleetCache, keys := t.TempDir(), t.TempDir()
	sk, pk := filepath.Join(keys, "sk"), filepath.Join(keys, "pk")
	for _, argv := range [][]string{
		{"nix-store", "--generate-binary-cache-key", "ci-1", sk, pk},
		{"nix", "--extra-experimental-features", "nix-command", "copy", "--to", "file://" + fleetCache + "?secret-key=" + sk + "&compression=zstd", fleetCached},
		{"nix-store", "--delete", fleetCached},
	} {
		if out, err := exec.Command(argv[0], argv[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
		}
	}
	public, _ := os.ReadFile(pk)
	if err := os.WriteFile(filepath.Join(web.Root, "etc-nix", "nix.conf"), []byte("sandbox = false\nsubstituters =\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	star := `deployment(name = "given")
machine(name = "web", target = ssh(host = var("web_host"), port = int(var("web_port")), host_key = var("web_key")),
        store_path = "` + fleetCached + `",
        transfer = nix_cache(substituter = "file://` + fleetCache + `", public_key = "` + strings.TrimSpace(string(public)) + `"))
`
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(star), 0o644); err != nil {
		t.Fatal(err)
	}
	plan = mustFerry(t, 0, dir, "", "plan", "--out", planFile)
	if want := "      system:  " + fleetCached + " (given, not evaluated; the host fetches it from its substituters and the fleet cache file://" + fleetCache + ")\n"; !strings.Contains(plan.stdout, want) {
		t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", planFile)
	if cur, _ := web.CurrentSystem(); cur != fleetCached {
		t.Errorf("web runs %q, want %s", cur, fleetCached)
	}
	if locallyValid(fleetCached) {
		t.Errorf("this machine's store holds %s again: it was not fetched by the host", fleetCached)
	}

	// A store path no store holds: the plan fails and says where it looked.
	missing := "/nix/store/0c2qy2pvlqlwxg7mnjnnqbqkpj1qkgw5-nixos-system-web-24.05.ferrystub"
	config(missing)
	r := mustFerry(t, 1, dir, "", "plan")
	for _, want := range []string{"ferry.star:2:1: machine web: store_path " + missing + ": no store holds it: not in this machine's Nix store, not in the Nix store of " + web.Target().String(), "not in the host's substituters (none configured)"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("plan's error lacks %q:\n%s", want, r.stderr)
		}
	}
	// With a fleet cache, the error names it too.
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(strings.Replace(star, fleetCached, missing, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = mustFerry(t, 1, dir, "", "plan")
	if want := "not in the host's substituters (none configured, nor in the fleet cache file://" + fleetCache + ")"; !strings.Contains(r.stderr, want) {
		t.Errorf("plan's error lacks %q:\n%s", want, r.stderr)
	}
}

// readState reads the deployment's latest state from dir's file:// store.
func readState(t *testing.T, dir, deployment string) *state.State {
	t.Helper()
	r := mustFerry(t, 0, dir, "", "state", "pull")
	var st state.State
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("state pull: %v\n%s", err, r.stdout)
	}
	return &st
}
