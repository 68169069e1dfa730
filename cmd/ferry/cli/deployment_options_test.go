package cli

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTargetFromDeploymentOptions deploys a machine declared without a
// target into a test host: its module's deployment.targetHost and
// targetPort say where it is, as in NixOps. The plan says where the target
// came from; the host key is trusted on first use and pinned; its
// deployment.keys key is uploaded; the next plan has nothing to do; day-2 commands reach it through the recorded target.
func TestTargetFromDeploymentOptions(t *testing.T) {
	hosts, web, _ := startWebAndDB(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ferry.star": `machine(name = "web", modules = [nix.module("./web.nix", args = {"host": var("web_host"), "port": int(var("web_port"))})])` + "\n",
		"web.nix":    "{ host, port, ... }: {\n  deployment.targetHost = host;\n  deployment.targetPort = port;\n  deployment.tags = [ \"front\" ];\n  deployment.keys.token = { text = \"s3cret-token\"; permissions = \"0400\"; };\n  services.nginx.enable = true;\n}\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, hosts, dir)

	plan := mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	for _, want := range []string{
		"  + machine.web  root@" + web.Address() + "\n",
		"      target:  host from deployment.targetHost, port from deployment.targetPort, user root (default)\n",
		"      tags:    front (from deployment.tags)\n",
		"      key + /run/keys/token (deployment.keys text, root:root 0400) new\n",
	} {
		if !strings.Contains(plan.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, plan.stdout)
		}
	}
	mustFerry(t, 0, dir, "", "apply", "plan.json")
	if _, err := os.Stat(filepath.Join(web.Root, "run", "current-system", "etc", "ferry-config.json")); err != nil {
		t.Fatalf("web runs no system: %v", err)
	}
	// The key of deployment.keys, read again at apply, is on the host;
	// its text is in no file ferry wrote.
	if got, err := os.ReadFile(filepath.Join(web.Root, "run", "keys", "token")); err != nil || string(got) != "s3cret-token" {
		t.Errorf("key on the host: %q, %v", got, err)
	}
	written := 0
	if err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || d.Type()&fs.ModeSymlink != 0 || d.Name() == "web.nix" {
			return err
		}
		written++
		if data, err := os.ReadFile(p); err == nil && strings.Contains(string(data), "s3cret") {
			t.Errorf("%s holds the key's text", p)
		}
		return nil
	}); err != nil || written < 3 {
		t.Errorf("looked into %d files (the plan, state and more): %v", written, err)
	}
	show := mustFerry(t, 0, dir, "", "state", "show", "machine.web", "--json")
	if !strings.Contains(show.stdout, `"host_key": "`+strings.TrimSpace(web.HostKey)) {
		t.Errorf("the host key is not pinned:\n%s", show.stdout)
	}
	if again := mustFerry(t, 0, dir, "", "plan"); !strings.Contains(again.stdout, "No changes.") {
		t.Errorf("second plan:\n%s", again.stdout)
	}
	if out := mustFerry(t, 0, dir, "", "exec", "--", "hostname"); !strings.Contains(out.stdout, "web") {
		t.Errorf("exec through the recorded target:\n%s", out.stdout)
	}
}

// TestNixSetOptions deploys two test hosts whose tags, keys, target and
// activation only their Nix modules give: --on and --exclude select by
// deployment.tags (the plan names what each tag matched) and so does
// rollout(tags = ...); ~/.ssh/config resolves the alias
// deployment.targetHost names; deployment.alwaysActivate deploys an
// unchanged system again; `ferry keys upload` uploads deployment.keys.
func TestNixSetOptions(t *testing.T) {
	hosts, web, db := startWebAndDB(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ferry.star": `machine(name = "web", modules = [nix.module("./web.nix")])
machine(name = "db", target = ssh(host = var("db_host"), port = int(var("db_port"))), modules = [nix.module("./db.nix")])
rollout(batch = 1, tags = ["front"])
`,
		"web.nix":    "{\n  deployment.targetHost = \"web-alias\";\n  deployment.tags = [ \"front\" ];\n  deployment.keys.token.text = \"s3cret-token\";\n  services.nginx.enable = true;\n}\n",
		"db.nix":     "{\n  deployment.tags = [ \"back\" ];\n  deployment.alwaysActivate = true;\n}\n",
		"ssh_config": fmt.Sprintf("Host web-alias\n  HostName %s\n  Port %d\n", web.Addr, web.Port),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, hosts, dir)
	t.Setenv("FERRY_SSH_CONFIG", filepath.Join(dir, "ssh_config"))

	back := mustFerry(t, 0, dir, "", "plan", "--on", "@back", "--out", filepath.Join(dir, "back.json"))
	if !strings.Contains(back.stdout, "Tag @back matched: machine.db.\n") || !strings.Contains(back.stdout, "  + machine.db") || strings.Contains(back.stdout, "machine.web") {
		t.Errorf("plan --on @back:\n%s", back.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "back.json"))

	front := mustFerry(t, 0, dir, "", "plan", "--exclude", "@back", "--out", filepath.Join(dir, "front.json"))
	for _, want := range []string{
		"  + machine.web  root@" + web.Address() + "\n",
		fmt.Sprintf("      target:  host from deployment.targetHost, %s by ssh_config, port %d (ssh_config), user root (default)\n", web.Addr, web.Port),
		"Rollout: 1 batch of 1",
		"Tag @back matched: machine.db.\n",
	} {
		if !strings.Contains(front.stdout, want) {
			t.Errorf("plan --exclude @back lacks %q:\n%s", want, front.stdout)
		}
	}
	if strings.Contains(front.stdout, "machine.db ") {
		t.Errorf("plan --exclude @back plans db:\n%s", front.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "front.json"))
	token := filepath.Join(web.Root, "run", "keys", "token")
	if got, err := os.ReadFile(token); err != nil || string(got) != "s3cret-token" {
		t.Fatalf("key on web: %q, %v", got, err)
	}

	activations := func() int {
		data, err := os.ReadFile(filepath.Join(db.Root, "run", "ferry-test", "activations"))
		if err != nil {
			t.Fatal(err)
		}
		return strings.Count(string(data), "\n")
	}
	before := activations()
	again := mustFerry(t, 0, dir, "", "plan", "--out", filepath.Join(dir, "again.json"))
	if !strings.Contains(again.stdout, "deployment.alwaysActivate: activated although its system is unchanged") || !strings.Contains(again.stdout, "1 machine to deploy, 1 unchanged") {
		t.Errorf("plan of the unchanged fleet:\n%s", again.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "again.json"))
	if after := activations(); after != before+1 {
		t.Errorf("db activated %d times by the apply, want once", after-before)
	}

	if err := os.Remove(token); err != nil {
		t.Fatal(err)
	}
	up := mustFerry(t, 0, dir, "", "keys", "upload", "--on", "web")
	if !strings.Contains(up.stdout, "web> uploaded 1 key: token") {
		t.Errorf("keys upload:\n%s", up.stdout)
	}
	if got, err := os.ReadFile(token); err != nil || string(got) != "s3cret-token" {
		t.Errorf("key on web after keys upload: %q, %v", got, err)
	}
}
