package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers/nix/binarycache/cachetest"
)

// transferConfig deploys three machines through a fleet cache; c reads
// another substituter (a broken cache in the test).
const transferConfig = `deployment(name = "transfer")

def cache(substituter):
    return nix_cache(url = var("cache_url"), substituter = substituter,
                     public_key = var("cache_public_key"), secret_key = var("cache_secret_key"))

defaults(transfer = cache(var("cache_substituter")))

def host(name, **kw):
    machine(name = name, target = ssh(host = var(name + "_host"), port = int(var(name + "_port"))),
            modules = [nix.inline("{ networking.hostName = \"%s\"; }" % name)], **kw)

host("a")
host("b")
host("c", transfer = cache(var("broken_substituter")))
`

// TestFleetCacheCLI: `ferry plan` shows each host's transfer, `ferry apply`
// deploys a and b from the cache (gofakes3, read over HTTP) and names c,
// whose cache refuses connections, as fallen back to push; the secret key
// shows nowhere.
func TestFleetCacheCLI(t *testing.T) {
	hosts := startTestHosts(t, "a", "b", "c")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(transferConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	setHostEnv(t, hosts, dir)
	keys := t.TempDir()
	if out, err := exec.Command("nix-store", "--generate-binary-cache-key", "fleet-1", filepath.Join(keys, "sk"), filepath.Join(keys, "pk")).CombinedOutput(); err != nil {
		t.Fatalf("generate keys: %v: %s", err, out)
	}
	sk, _ := os.ReadFile(filepath.Join(keys, "sk"))
	pk, _ := os.ReadFile(filepath.Join(keys, "pk"))
	srv := cachetest.NewS3(t, "fleet")
	broken := cachetest.NewBroken(t, cachetest.Refused)
	t.Setenv("FERRY_VAR_cache_url", srv.BucketURL)
	t.Setenv("FERRY_VAR_cache_substituter", srv.URL)
	t.Setenv("FERRY_VAR_broken_substituter", broken)
	t.Setenv("FERRY_VAR_cache_public_key", strings.TrimSpace(string(pk)))
	t.Setenv("FERRY_VAR_cache_secret_key", strings.TrimSpace(string(sk)))
	secret := strings.SplitN(strings.TrimSpace(string(sk)), ":", 2)[1]

	planPath := filepath.Join(dir, "plan.json")
	r := mustFerry(t, 0, dir, "", "plan", "--out", planPath)
	for _, want := range []string{
		"transfer: cache " + srv.BucketURL + " (substituter " + srv.URL + ")",
		"transfer: cache " + srv.BucketURL + " (substituter " + broken + ")",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	a := mustFerry(t, 0, dir, "", "apply", planPath)
	if !strings.Contains(a.stdout, "machine.c fell back to push: fetched 0 of ") || !strings.Contains(a.stdout, "Couldn't connect to server") {
		t.Errorf("apply output does not say that c fell back and why:\n%s", a.stdout)
	}
	if strings.Contains(a.stdout, "machine.a fell back") || strings.Contains(a.stdout, "machine.b fell back") {
		t.Errorf("a or b fell back:\n%s", a.stdout)
	}
	plan, _ := os.ReadFile(planPath)
	for what, s := range map[string]string{"plan output": r.stdout + r.stderr, "apply output": a.stdout + a.stderr, "plan file": string(plan)} {
		if strings.Contains(s, secret) {
			t.Errorf("%s shows the cache's secret key", what)
		}
	}
	if srv.Count("PUT", ".narinfo") == 0 || srv.Count("GET", ".nar.zst") == 0 {
		t.Errorf("the cache saw no uploads or no NAR fetches: %v", srv.Requests())
	}
}
