package cli

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/state"
)

// TestSSHConfigTargets loads machines whose hosts are ~/.ssh/config
// aliases: HostName, Port, User and ProxyJump apply where ssh() leaves
// them out, and what ssh() gives wins.
func TestSSHConfigTargets(t *testing.T) {
	dir := t.TempDir()
	sshConfig := filepath.Join(dir, "ssh_config")
	write(t, sshConfig, `
Host web
  HostName 10.1.0.5
  Port 2222
  User deploy
  IdentityFile ~/.ssh/web_key

Host db
  HostName db.internal
  ProxyJump admin@bastion:2200
  ProxyCommand nc %h %p

Host bastion
  HostName 10.1.0.1
  ProxyCommand nc %h %p

Host *
  User alice
`)
	write(t, filepath.Join(dir, "ferry.star"), `
machine(name = "web", target = ssh(host = "web"), modules = [nix.inline("{ }")])
machine(name = "pinned", target = ssh(host = "web", port = 22, user = "root"), modules = [nix.inline("{ }")])
machine(name = "db", target = ssh(host = "db", user = "root"), modules = [nix.inline("{ }")])
machine(name = "plain", target = ssh(host = "10.9.9.9"), modules = [nix.inline("{ }")])
`)
	var stderr bytes.Buffer
	a := &App{
		IO:      IO{Stderr: &stderr, LookupEnv: func(k string) (string, bool) { return map[string]string{"HOME": "/home/u"}[k], k == "HOME" }},
		Globals: &Globals{Chdir: dir, File: "ferry.star", SSHConfig: sshConfig},
		ctx:     context.Background(),
	}
	cfg, err := a.LoadConfig()
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, m := range cfg.Machines {
		rt := machines.ResolveTarget(m.Target)
		got[m.Name] = rt.String()
		if rt.Jump != nil {
			got[m.Name] += " via " + rt.Jump.String()
		}
	}
	want := map[string]string{
		"web":    "deploy@10.1.0.5:2222",
		"pinned": "root@10.1.0.5:22",
		"db":     "root@db.internal:22 via admin@10.1.0.1:2200",
		"plain":  "alice@10.9.9.9:22",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("targets (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"/home/u/.ssh/web_key"}, a.sshIdentities); diff != "" {
		t.Errorf("identity files (-want +got):\n%s", diff)
	}
	if n := strings.Count(stderr.String(), "ProxyCommand"); n != 1 {
		t.Errorf("ProxyCommand warned %d times, want once:\n%s", n, stderr.String())
	}
	if !strings.Contains(stderr.String(), "warning: "+sshConfig+": ProxyCommand (for host db) is not supported by ferry's SSH and is ignored") {
		t.Errorf("warning:\n%s", stderr.String())
	}

	// --ssh-config none reads none.
	a = &App{IO: IO{Stderr: &stderr}, Globals: &Globals{Chdir: dir, File: "ferry.star", SSHConfig: sshConfigNone}, ctx: context.Background()}
	if cfg, err = a.LoadConfig(); err != nil {
		t.Fatal(err)
	}
	if got := machines.ResolveTarget(cfg.Machines[0].Target).String(); got != "root@web:22" {
		t.Errorf("without an SSH client configuration: web is %s, want root@web:22", got)
	}

	// A broken file stops the command and says what to do.
	write(t, sshConfig, "Host web\n  Port many\n")
	a = &App{IO: IO{Stderr: &stderr}, Globals: &Globals{Chdir: dir, File: "ferry.star", SSHConfig: sshConfig}, ctx: context.Background()}
	if _, err := a.LoadConfig(); err == nil || !strings.Contains(err.Error(), `Port "many" is not a port number`) {
		t.Errorf("bad port: got %v", err)
	}
}

// TestSSHConfigDeploy deploys two test hosts named by ssh_config aliases
// only: the key is the IdentityFile (no --ssh-key), db is reached through
// web by ProxyJump, and state records the real endpoints.
func TestSSHConfigDeploy(t *testing.T) {
	hosts, web, db := startWebAndDB(t)
	dir := t.TempDir()
	setHostEnv(t, hosts, dir)
	os.Unsetenv("FERRY_SSH_KEY") // t.Setenv restores it
	sshConfig := filepath.Join(dir, "ssh_config")
	write(t, sshConfig, fmt.Sprintf(`
Host web-alias
  HostName %s
  Port %d
  IdentityFile %s

Host db-alias
  HostName %s
  Port %d
  ProxyJump web-alias
  ProxyCommand nc %%h %%p
`, web.Addr, web.Port, hosts.ClientKeyFile, db.Addr, db.Port))
	t.Setenv("FERRY_SSH_CONFIG", sshConfig)
	write(t, filepath.Join(dir, "ferry.star"), `deployment(name = "aliases")
machine(name = "web", target = ssh(host = "web-alias"), modules = [nix.inline("{ networking.domain = \"web.example\"; }")])
machine(name = "db", target = ssh(host = "db-alias"), modules = [nix.inline("{ }")])
`)
	planPath := filepath.Join(dir, "plan.json")
	mustFerry(t, 0, dir, "", "plan", "--out", planPath)
	planFile, err := os.ReadFile(planPath)
	if err != nil {
		t.Fatal(err)
	}
	jump := regexp.MustCompile(fmt.Sprintf(`"jump": \{\s*"host": %q,\s*"port": %d,`, web.Addr, web.Port))
	if !jump.Match(planFile) {
		t.Errorf("the plan does not reach db through web (%s):\n%s", jump, planFile)
	}
	r := mustFerry(t, 0, dir, "", "apply", planPath)
	if n := strings.Count(r.stderr, "ProxyCommand"); n != 1 {
		t.Errorf("ProxyCommand warned %d times, want once:\n%s", n, r.stderr)
	}
	var st *state.State
	for _, h := range []struct {
		name string
		sys  func() (string, error)
	}{{"web", web.CurrentSystem}, {"db", db.CurrentSystem}} {
		if s, err := h.sys(); err != nil || s == "" {
			t.Errorf("%s runs %q (%v) after apply", h.name, s, err)
		}
	}
	st, err = state.Decode("state", []byte(mustFerry(t, 0, dir, "", "show", "--json").stdout))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := st.Machines["machine.db"].Target, "root@"+db.Address(); got != want {
		t.Errorf("state records db at %s, want %s", got, want)
	}
	r = mustFerry(t, 0, dir, "", "exec", "--", "hostname")
	if diff := cmp.Diff([]string{"db> db", "web> web"}, sortedLines(r.stdout)); diff != "" {
		t.Errorf("exec (-want +got):\n%s", diff)
	}
}

func write(t *testing.T, path, content string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestDefaultKeysFromHome: without --ssh-key (nor FERRY_SSH_KEY, an agent
// or ssh_config), ferry logs in with ~/.ssh/id_ed25519; --var-file=~/...
// is read from $HOME, and a --ssh-config that is missing is an error.
func TestDefaultKeysFromHome(t *testing.T) {
	hosts, web, _ := startWebAndDB(t)
	dir := t.TempDir()
	setHostEnv(t, hosts, dir)
	os.Unsetenv("FERRY_SSH_KEY") // t.Setenv restores it
	home := t.TempDir()
	t.Setenv("HOME", home)
	key, err := os.ReadFile(hosts.ClientKeyFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	write(t, filepath.Join(home, ".ssh", "id_ed25519"), string(key))
	os.Chmod(filepath.Join(home, ".ssh", "id_ed25519"), 0o600)
	write(t, filepath.Join(home, "vars.json"), `{"domain": "home.example"}`)
	write(t, filepath.Join(dir, "ferry.star"), `deployment(name = "home")
machine(name = "web", target = ssh(host = var("web_host"), port = int(var("web_port"))), modules = [nix.inline("{ networking.domain = \"%s\"; }" % var("domain"))])
`)
	r := mustFerry(t, 0, dir, "", "plan", "--var-file=~/vars.json")
	if !strings.Contains(r.stdout, "machine.web") || strings.Contains(r.stderr, "not reachable") {
		t.Errorf("plan with the key in ~/.ssh:\n%s\n%s", r.stdout, r.stderr)
	}
	if r := mustFerry(t, 0, dir, "", "--var-file=~/vars.json", "exec", "--", "hostname"); !strings.Contains(r.stdout, "web") {
		t.Errorf("exec with the key in ~/.ssh: %s %s (host %s)", r.stdout, r.stderr, web.Name)
	}
	if r := mustFerry(t, 1, dir, "", "--ssh-config", "nope", "plan", "--var-file=~/vars.json"); !strings.Contains(r.stderr, "--ssh-config nope: stat "+filepath.Join(dir, "nope")+": no such file or directory") {
		t.Errorf("a missing --ssh-config:\n%s", r.stderr)
	}
}
