package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/fakecloud"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/testhosts"
)

// startTestHosts starts test hosts with names, stopped when t ends.
func startTestHosts(t *testing.T, names ...string) *testhosts.Fleet {
	t.Helper()
	nixtest.RequireNix(t)
	hosts, err := testhosts.Start(context.Background(), testhosts.Options{Names: names})
	if err != nil {
		t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	t.Cleanup(func() {
		if err := hosts.Stop(); err != nil {
			t.Error(err)
		}
	})
	return hosts
}

// targetsConfig puts three machines on fake.host resources (one pool
// entry each, in their own fake regions): web pins the key the provider
// reports, db gives no host_key (trusted on first use), and app's system
// needs its host's id (deferred until the host exists).
const targetsConfig = `deployment(name = "targets")

def cloud(name):
    return fake.provider(region = name, alias = name, hosts = [{
        "host": var(name + "_host"),
        "port": int(var(name + "_port")),
        "host_key": var(name + "_key", default = None),
    }])

web_host = fake.host(name = "web", provider = cloud("web"))
machine(name = "web", target = ssh(host = web_host.host, port = web_host.port, host_key = web_host.host_key),
        modules = [nix.inline("{ networking.domain = \"web.example\"; }")])

db_host = fake.host(name = "db", provider = cloud("db"))
machine(name = "db", target = ssh(host = db_host.host, port = db_host.port), modules = [nix.inline("{ }")])

app_host = fake.host(name = "app", provider = cloud("app"))
machine(name = "app", target = ssh(host = app_host.host, port = app_host.port, host_key = app_host.host_key),
        modules = [nix.module("./app.nix", args = {"hostId": app_host.id})])
`

// TestMachinesOnResources runs ferry on machines whose targets come from
// resources the plan creates, on real test hosts: the plan shows their
// endpoints as known after apply and app as deferred; `ferry apply PLAN`
// deploys the others and names app with the commands that deploy it;
// destroy forgets each machine before it deletes its host; a plan-less
// apply deploys app in the same run, after a second plan it shows and asks
// about.
func TestMachinesOnResources(t *testing.T) {
	hosts := startTestHosts(t, "web", "db", "app")
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ferry.star": targetsConfig,
		"app.nix":    "{ hostId, ... }: { networking.domain = \"${hostId}.fake.example\"; }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, hosts, dir)
	web, _ := hosts.Host("web")
	app, _ := hosts.Host("app")
	t.Setenv("FERRY_VAR_web_key", web.HostKey)
	t.Setenv("FERRY_VAR_app_key", app.HostKey)

	// One fake cloud account for every ferry run of the test.
	fc := fakecloud.New()
	ferry := func(want int, stdin string, args ...string) ferryRun {
		t.Helper()
		var out, errOut bytes.Buffer
		stdio := IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, LookupEnv: os.LookupEnv}
		code := MainWith(context.Background(), append([]string{"-C", dir}, args...), stdio, Options{Providers: []providers.Provider{fc}})
		r := ferryRun{code: code, stdout: out.String(), stderr: errOut.String()}
		if r.code != want {
			t.Fatalf("ferry %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
		}
		return r
	}
	contains := func(what, out string, wants ...string) {
		t.Helper()
		for _, w := range wants {
			if !strings.Contains(out, w) {
				t.Errorf("%s does not contain %q:\n%s", what, w, out)
			}
		}
	}
	// before checks that each line containing a first fragment comes
	// before the line containing its second.
	before := func(what, out string, pairs ...[2]string) {
		t.Helper()
		for _, p := range pairs {
			i, j := strings.Index(out, p[0]), strings.Index(out, p[1])
			if i < 0 || j < 0 || i > j {
				t.Errorf("%s: %q (at %d) should come before %q (at %d):\n%s", what, p[0], i, p[1], j, out)
			}
		}
	}

	plan := ferry(0, "", "plan", "--out", "plan.json")
	contains("plan", plan.stdout,
		"  # machine.web will be deployed for the first time (switch)",
		"  + machine.web  root@(known after apply):(known after apply)\n",
		"      target:  host = fake.host.web.host, port = fake.host.web.port (known after apply)\n",
		"      host key: fake.host.web.host_key (known after apply), pinned before the first login\n",
		"      note: the host is known only after apply (fake.host.web will be created): it is not read now; apply connects once it exists and deploys it\n",
		"      host key: trusted on first use (no host_key: ferry pins the key the new host presents at the first login)\n",
		"  # machine.app is deferred: its module args use fake.host.app.id, known only after apply (fake.host.app will be created)",
		"Plan: 3 to add, 0 to change, 0 to destroy. 2 machines to deploy, 0 unchanged, 1 deferred.\n",
	)

	applied := ferry(0, "", "apply", "plan.json")
	contains("apply plan.json", applied.stdout,
		"Apply complete! Resources: 3 added, 0 changed, 0 destroyed. Machines: 2 deployed, 1 deferred.\n",
		"Deferred: 1 machine was not deployed: its system depends on values this apply produced.\n",
		"  machine.app: its module args use fake.host.app.id, known only after apply (fake.host.app will be created)\n",
		"run `ferry -C "+dir+" plan --out plan.json`, review it and `ferry -C "+dir+" apply plan.json` to deploy them",
		"web> target resolved: root@"+web.Addr,
	)
	before("apply plan.json", applied.stdout, [2]string{"fake.host.web: created", "web> target resolved"})
	if cur, _ := app.CurrentSystem(); cur != "" {
		t.Errorf("app runs %s: a deferred machine is not deployed", cur)
	}
	for _, h := range []string{"web", "db"} {
		host, _ := hosts.Host(h)
		if cur, _ := host.CurrentSystem(); cur == "" {
			t.Errorf("%s runs no system after apply", h)
		}
	}

	destroyed := ferry(0, "", "destroy", "--auto-approve")
	before("destroy", destroyed.stdout,
		[2]string{"machine.web: forgotten", "fake.host.web: destroyed"},
		[2]string{"machine.db: forgotten", "fake.host.db: destroyed"},
	)

	// A plan-less apply asks twice: for the plan with app deferred, then,
	// after applying it, for the plan that deploys app.
	again := ferry(0, "yes\nyes\n", "apply")
	if n := strings.Count(again.stdout, "Do you want to perform these actions?"); n != 2 {
		t.Errorf("the plan-less apply asked %d time(s), want 2:\n%s", n, again.stdout)
	}
	contains("plan-less apply", again.stdout,
		"Apply complete! Resources: 3 added, 0 changed, 0 destroyed. Machines: 2 deployed, 1 deferred.\n",
		"Planning again: the inputs of 1 deferred machine exist now (machine.app).\n",
		"  # machine.app will be deployed for the first time (switch)",
		"Apply complete! Resources: 0 added, 0 changed, 0 destroyed. Machines: 1 deployed.\n",
	)
	before("plan-less apply", again.stdout,
		[2]string{"machine.app is deferred", "Planning again"},
		[2]string{"Planning again", "machine.app will be deployed"},
		[2]string{"machine.app will be deployed", "app: deployed"},
	)
	if strings.Contains(again.stdout, "evaluating") {
		t.Errorf("the second plan's progress went to stdout, not stderr:\n%s", again.stdout)
	}
	if strings.Contains(again.stdout, "Deferred:") {
		t.Errorf("the plan-less apply tells the user to run more commands:\n%s", again.stdout)
	}
	if cur, _ := app.CurrentSystem(); cur == "" {
		t.Errorf("app runs no system after the plan-less apply")
	}
	if out := ferry(0, "", "plan").stdout; !strings.Contains(out, "No changes.") {
		t.Errorf("plan after the plan-less apply:\n%s", out)
	}

	// An update in place that restarts the host says so.
	changed := strings.Replace(targetsConfig, `fake.host(name = "web",`, `fake.host(name = "web", value = "big",`, 1)
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(changed), 0o644); err != nil {
		t.Fatal(err)
	}
	contains("plan of a restarting update", ferry(0, "", "plan").stdout,
		`  # fake.host.web will be updated in place with downtime: restarts the machine to change value from "" to "big"`)
}
