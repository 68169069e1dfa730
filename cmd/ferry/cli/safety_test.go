package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote/testhosts"
)

const safetyConfig = `deployment(name = "safety")

def target(name):
    return ssh(host = var(name + "_host"), port = int(var(name + "_port")))

def node(name, tags):
    machine(
        name = name,
        target = target(name),
        modules = [nix.module("./node.nix")],
        tags = tags,
        keys = [
            key("api-token", text = var("token"), permissions = "0400"),
            key("cert.pem", file = "./secrets/cert.pem", upload_at = "post-activation"),
        ],
        checks = [cmd_check("test -e /run/healthy", retries = 0, timeout = "5s")],
    )

node("web", ["front"])
node("db", ["back"])
rollout(batch = 1)
`

// TestSafetyCommands runs plan and apply with keys, health checks and a
// rollout against two real test hosts, then keys upload and check-health.
func TestSafetyCommands(t *testing.T) {
	hosts, web, db := startWebAndDB(t)
	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("ferry.star", safetyConfig)
	write("node.nix", "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }\n")
	write("secrets/cert.pem", "CERT-SECRET-MATERIAL\n")
	for _, h := range []testhosts.Host{web, db} {
		if err := os.WriteFile(filepath.Join(h.Root, "run", "healthy"), nil, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, hosts, dir)
	t.Setenv("FERRY_VAR_token", "TOKEN-SECRET-1")
	noSecret := func(t *testing.T, what, s string) {
		t.Helper()
		for _, secret := range []string{"TOKEN-SECRET", "CERT-SECRET-MATERIAL"} {
			if strings.Contains(s, secret) {
				t.Errorf("%s shows the secret %q:\n%s", what, secret, s)
			}
		}
	}

	planPath := filepath.Join(dir, "plan.json")
	r := mustFerry(t, 0, dir, "", "plan", "--out", planPath)
	noSecret(t, "plan", r.stdout+r.stderr)
	for _, want := range []string{
		"# machine.db will be deployed for the first time (switch) in rollout batch 1",
		"# machine.web will be deployed for the first time (switch) in rollout batch 2",
		"key + /run/keys/api-token (text, root:root 0400) new",
		"key + /run/keys/cert.pem (file " + filepath.Join(dir, "secrets", "cert.pem") + ", root:root 0600) new",
		"check:   cmd test -e /run/healthy",
		"Rollout: 2 batches of 1 machine, stop after more than 0 failures.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan output lacks %q:\n%s", want, r.stdout)
		}
	}
	planFile, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	noSecret(t, "plan.json", string(planFile))
	r = mustFerry(t, 0, dir, "", "apply", planPath)
	noSecret(t, "apply", r.stdout+r.stderr)
	if !strings.Contains(r.stdout, "web> health checks passed") || !strings.Contains(r.stdout, "db> uploaded 1 key: api-token") {
		t.Errorf("apply output:\n%s", r.stdout)
	}
	readKey := func(h testhosts.Host, name string) string {
		b, err := os.ReadFile(filepath.Join(h.Root, "run", "keys", name))
		if err != nil {
			return ""
		}
		return string(b)
	}
	if readKey(web, "api-token") != "TOKEN-SECRET-1" || readKey(db, "cert.pem") != "CERT-SECRET-MATERIAL\n" {
		t.Fatalf("keys on the hosts: %q, %q", readKey(web, "api-token"), readKey(db, "cert.pem"))
	}
	state := mustFerry(t, 0, dir, "", "state", "pull")
	noSecret(t, "state", state.stdout)
	show := mustFerry(t, 0, dir, "", "show")
	if !strings.Contains(show.stdout, "keys       = /run/keys/api-token, /run/keys/cert.pem (hashes only)") {
		t.Errorf("show does not list the keys:\n%s", show.stdout)
	}
	noSecret(t, "show", show.stdout)

	// /run/keys is lost (a reboot ferry did not make): keys upload puts
	// the keys back without a deploy.
	os.RemoveAll(filepath.Join(web.Root, "run", "keys"))
	r = mustFerry(t, 0, dir, "", "keys", "upload", "--on", "web")
	if !strings.HasPrefix(r.stdout, "web> uploaded 2 keys: api-token, cert.pem\n") || readKey(web, "api-token") != "TOKEN-SECRET-1" {
		t.Errorf("keys upload: %q, key %q", r.stdout, readKey(web, "api-token"))
	}

	// A new secret: the plan uploads keys only.
	t.Setenv("FERRY_VAR_token", "TOKEN-SECRET-2")
	r = mustFerry(t, 0, dir, "", "plan")
	if !strings.Contains(r.stdout, "# machine.web keys will be uploaded (the system is unchanged; keys change)") ||
		!strings.Contains(r.stdout, "key ~ /run/keys/api-token (text, root:root 0400) changed") ||
		!strings.Contains(r.stdout, "2 machines to deploy, 0 unchanged.") {
		t.Errorf("plan after a new secret:\n%s", r.stdout)
	}
	noSecret(t, "plan", r.stdout)
	mustFerry(t, 0, dir, "", "apply", "--auto-approve")
	if readKey(db, "api-token") != "TOKEN-SECRET-2" {
		t.Errorf("db api-token = %q", readKey(db, "api-token"))
	}

	// check-health runs the checks now.
	r = mustFerry(t, 0, dir, "", "check-health")
	if got := sortedLines(r.stdout); strings.Join(got, "\n") != "db> 1 health check passed\nweb> 1 health check passed" {
		t.Errorf("check-health: %q", r.stdout)
	}
	os.Remove(filepath.Join(db.Root, "run", "healthy"))
	r = mustFerry(t, 1, dir, "", "check-health")
	if !strings.Contains(r.stdout, "db> unhealthy:") || !strings.Contains(r.stderr, "1 machine unhealthy: db") {
		t.Errorf("check-health with db unhealthy: %q / %q", r.stdout, r.stderr)
	}

	// ferry reboot: web comes back with a new boot and its keys uploaded
	// again; its check runs and fails, since the test's /run/healthy went
	// with /run.
	r = mustFerry(t, 1, dir, "", "reboot", "--on", "web")
	for _, want := range []string{"web> back with a new boot\n", "web> uploaded 2 keys: api-token, cert.pem\n", "web> unhealthy:"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("reboot --on web lacks %q:\n%s\n%s", want, r.stdout, r.stderr)
		}
	}
	if n := hosts.Reboots("web"); n != 1 {
		t.Errorf("web rebooted %d times, want 1", n)
	}
	if readKey(web, "api-token") != "TOKEN-SECRET-2" {
		t.Errorf("after the reboot web's api-token is %q", readKey(web, "api-token"))
	}

	// A missing key file fails the plan before anything is touched.
	os.Remove(filepath.Join(dir, "secrets", "cert.pem"))
	r = mustFerry(t, 1, dir, "", "plan")
	if !strings.Contains(r.stderr, "ferry.star:14:13: machine db: key cert.pem: cannot read "+filepath.Join(dir, "secrets", "cert.pem")+": no such file or directory") {
		t.Errorf("plan with a missing key file: %s", r.stderr)
	}
}
