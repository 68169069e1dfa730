package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/alecthomas/kong"
	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

func TestDay2ArgParsing(t *testing.T) {
	type parsed struct {
		Command string
		Name    string
		On      []string
		Words   []string
	}
	tests := []struct {
		args []string
		want parsed
	}{
		{[]string{"ssh", "web"}, parsed{Command: "ssh <machine>", Name: "web"}},
		{[]string{"ssh", "web", "--", "ls", "-la"}, parsed{Command: "ssh <machine> <command>", Name: "web", Words: []string{"ls", "-la"}}},
		{[]string{"ssh", "web", "uname", "-a"}, parsed{Command: "ssh <machine> <command>", Name: "web", Words: []string{"uname", "-a"}}},
		{[]string{"exec", "--", "uptime"}, parsed{Command: "exec <command>", Words: []string{"uptime"}}},
		{[]string{"exec", "--on", "web", "--on", "@db", "--", "echo", "--on"}, parsed{Command: "exec <command>", On: []string{"web", "@db"}, Words: []string{"echo", "--on"}}},
		{[]string{"-C", "dir", "exec", "systemctl", "status", "--no-pager"}, parsed{Command: "exec <command>", Words: []string{"systemctl", "status", "--no-pager"}}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			var root CLI
			p, err := kong.New(&root, append(parserOptions(), kong.Exit(func(int) { t.Fatal("kong exited") }))...)
			if err != nil {
				t.Fatal(err)
			}
			kctx, err := p.Parse(tt.args)
			if err != nil {
				t.Fatal(err)
			}
			got := parsed{Command: kctx.Command(), Name: root.SSH.Name, On: root.Exec.On}
			if strings.HasPrefix(got.Command, "ssh") {
				got.Words = dropDashes(root.SSH.Command)
			} else {
				got.Words = dropDashes(root.Exec.Command)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestOpenSSHArgs(t *testing.T) {
	base := []string{"-o", "UserKnownHostsFile=/tmp/kh", "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes", "-o", "UpdateHostKeys=no"}
	join := func(parts ...[]string) []string {
		var out []string
		for _, p := range parts {
			out = append(out, p...)
		}
		return out
	}
	tests := []struct {
		name string
		t    remote.Target
		keys []string
		want []string
	}{
		{"defaults", remote.Target{Host: "web.example.com"},
			nil, join([]string{"-p", "22"}, base, []string{"-l", "root", "--", "web.example.com"})},
		{"port user keys", remote.Target{Host: "10.0.0.2", Port: 2222, User: "deploy"},
			[]string{"/k/a", "/k/b"}, join([]string{"-p", "2222"}, base, []string{"-i", "/k/a", "-i", "/k/b", "-l", "deploy", "--", "10.0.0.2"})},
		{"jump host", remote.Target{Host: "10.0.0.2", Jump: &remote.Target{Host: "bastion", Port: 2200}},
			[]string{"/k/50%"}, join([]string{"-p", "22"}, base, []string{"-i", "/k/50%", "-o",
				"ProxyCommand=/usr/bin/ssh -p 2200 -o UserKnownHostsFile=/tmp/kh -o GlobalKnownHostsFile=/dev/null -o StrictHostKeyChecking=yes -o UpdateHostKeys=no -i /k/50%% -W %h:%p -l root -- bastion",
				"-l", "root", "--", "10.0.0.2"})},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := openSSHArgs("/usr/bin/ssh", tt.t, "/tmp/kh", tt.keys)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("openSSHArgs (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPrefixWriter(t *testing.T) {
	var out bytes.Buffer
	var mu sync.Mutex
	w := &prefixWriter{mu: &mu, w: &out, prefix: "web> "}
	for _, s := range []string{"one\ntw", "o\n", "", "three\nfour\n\nfi", "ve"} {
		if _, err := w.Write([]byte(s)); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	want := "web> one\nweb> two\nweb> three\nweb> four\nweb> \nweb> five\n"
	if diff := cmp.Diff(want, out.String()); diff != "" {
		t.Errorf("prefixed output (-want +got):\n%s", diff)
	}
}

func TestParseFailedUnits(t *testing.T) {
	tests := []struct {
		out         string
		wantChecked bool
		want        []string
	}{
		{noSystemd + "\n", false, []string{}},
		{"", true, []string{}},
		{"nginx.service loaded failed failed nginx\nfoo.mount loaded failed failed Foo\n", true, []string{"nginx.service", "foo.mount"}},
		{"● nginx.service loaded failed failed nginx\n", true, []string{"nginx.service"}},
	}
	for _, tt := range tests {
		checked, got := parseFailedUnits(tt.out)
		if checked != tt.wantChecked {
			t.Errorf("parseFailedUnits(%q) checked = %v, want %v", tt.out, checked, tt.wantChecked)
		}
		if diff := cmp.Diff(tt.want, got); diff != "" {
			t.Errorf("parseFailedUnits(%q) (-want +got):\n%s", tt.out, diff)
		}
	}
}

func TestRollbackTarget(t *testing.T) {
	gens := func(current int, nums ...int) []remote.Generation {
		var out []remote.Generation
		for _, n := range nums {
			out = append(out, remote.Generation{Number: n, Path: "/nix/store/s" + strconv.Itoa(n), Current: n == current})
		}
		return out
	}
	tests := []struct {
		name     string
		gens     []remote.Generation
		want     int
		from, to int
		err      string
	}{
		{"previous", gens(3, 1, 2, 3), 0, 3, 2, ""},
		{"previous skips deleted", gens(5, 1, 2, 5), 0, 5, 2, ""},
		{"previous of a rolled back profile", gens(2, 1, 2, 3), 0, 2, 1, ""},
		{"explicit newer", gens(1, 1, 2, 3), 3, 1, 3, ""},
		{"explicit current", gens(2, 1, 2), 2, 2, 2, ""},
		{"none older", gens(1, 1, 2), 0, 0, 0, "no generation older than the current one (1) exists"},
		{"missing", gens(2, 1, 2), 7, 0, 0, "generation 7 does not exist on the host (it has 1, 2)"},
		{"empty", nil, 0, 0, 0, "the host has no system generations to roll back to"},
		{"no current", gens(0, 1, 2), 0, 0, 0, "the system profile points to none of its generations: name the generation to switch to"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			from, to, err := machines.RollbackTarget(tt.gens, tt.want)
			if tt.err != "" {
				if err == nil || err.Error() != tt.err {
					t.Fatalf("error = %v, want %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if from.Number != tt.from || to.Number != tt.to {
				t.Errorf("from %d to %d, want from %d to %d", from.Number, to.Number, tt.from, tt.to)
			}
		})
	}
}

// ferryRun is one in-process ferry command's outcome.
type ferryRun struct {
	code           int
	stdout, stderr string
}

// runFerry runs ferry -C dir ARGS in this process, with the process
// environment (which the test sets with t.Setenv) and stdin.
func runFerry(t testing.TB, dir, stdin string, args ...string) ferryRun {
	t.Helper()
	var out, errOut bytes.Buffer
	stdio := IO{Stdin: strings.NewReader(stdin), Stdout: &out, Stderr: &errOut, LookupEnv: os.LookupEnv}
	code := Main(context.Background(), append([]string{"-C", dir}, args...), stdio)
	return ferryRun{code: code, stdout: out.String(), stderr: errOut.String()}
}

// mustFerry runs ferry and fails the test unless it exits with want.
func mustFerry(t testing.TB, want int, dir, stdin string, args ...string) ferryRun {
	t.Helper()
	r := runFerry(t, dir, stdin, args...)
	if r.code != want {
		t.Fatalf("ferry %s: exit status %d, want %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), r.code, want, r.stdout, r.stderr)
	}
	return r
}

func sortedLines(s string) []string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	sort.Strings(lines)
	return lines
}

const day2Config = `deployment(name = "day2")

def target(name):
    return ssh(
        host = var(name + "_host"),
        port = int(var(name + "_port")),
        host_key = var(name + "_key", default = None),
    )

machine(name = "web", target = target("web"), modules = [nix.module("./web.nix")], tags = ["front"])
machine(name = "db", target = target("db"), modules = [nix.module("./db.nix")], tags = ["back"])
`

// startWebAndDB starts the test hosts web and db, stopped when t ends.
func startWebAndDB(t *testing.T) (*testhosts.Fleet, testhosts.Host, testhosts.Host) {
	t.Helper()
	nixtest.RequireNix(t)
	hosts, err := testhosts.Start(context.Background(), testhosts.Options{Names: []string{"web", "db"}})
	if err != nil {
		t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	t.Cleanup(func() {
		if err := hosts.Stop(); err != nil {
			t.Error(err)
		}
	})
	web, _ := hosts.Host("web")
	db, _ := hosts.Host("db")
	return hosts, web, db
}

// setHostEnv points ferry at the stub nixpkgs, the fleet's client key and
// file:// state in dir, and sets the vars NAME_host and NAME_port of
// every host.
func setHostEnv(t testing.TB, hosts *testhosts.Fleet, dir string) {
	t.Helper()
	for k, v := range map[string]string{
		"NIX_PATH":      "nixpkgs=" + nixtest.NixpkgsPath(),
		"NIX_CONFIG":    "substituters =\nsandbox = false",
		"FERRY_SSH_KEY": hosts.ClientKeyFile,
		"SSH_AUTH_SOCK": "",
		"FERRY_STATE":   "file://" + filepath.Join(dir, ".ferry"),
		"NO_COLOR":      "1",
	} {
		t.Setenv(k, v)
	}
	for _, h := range hosts.Hosts {
		t.Setenv("FERRY_VAR_"+h.Name+"_host", h.Addr)
		t.Setenv("FERRY_VAR_"+h.Name+"_port", strconv.Itoa(h.Port))
	}
}

// TestDay2Commands deploys two real test hosts with ferry and then runs
// every day-2 command against them: exec, ssh, info, check, generations
// and rollback.
func TestDay2Commands(t *testing.T) {
	hosts, web, db := startWebAndDB(t)

	dir := t.TempDir()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("ferry.star", day2Config)
	write("web.nix", "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello ]; }\n")
	write("db.nix", "{ ... }: { networking.domain = \"example.org\"; }\n")

	setHostEnv(t, hosts, dir)
	t.Setenv("FERRY_VAR_web_key", web.HostKey) // db's key is trusted on first use and pinned in state

	mustFerry(t, 0, dir, "", "apply", "--auto-approve")
	web1, _ := web.CurrentSystem()
	db1, _ := db.CurrentSystem()
	if web1 == "" || db1 == "" || web1 == db1 {
		t.Fatalf("after apply: web runs %q, db runs %q; want two systems", web1, db1)
	}
	readState := func() *state.State {
		t.Helper()
		r := mustFerry(t, 0, dir, "", "show", "--json")
		st, err := state.Decode("state", []byte(r.stdout))
		if err != nil {
			t.Fatal(err)
		}
		return st
	}

	t.Run("exec", func(t *testing.T) {
		r := mustFerry(t, 0, dir, "", "exec", "--", "echo", "hello from", "$(hostname)")
		if diff := cmp.Diff([]string{"db> hello from db", "web> hello from web"}, sortedLines(r.stdout)); diff != "" {
			t.Errorf("exec output (-want +got):\n%s", diff)
		}
		if r.stderr != "ferry exec: succeeded on 2 machines\n" {
			t.Errorf("exec stderr = %q", r.stderr)
		}
		r = mustFerry(t, 0, dir, "", "exec", "--on", "@front", "--", "hostname")
		if r.stdout != "web> web\n" {
			t.Errorf("exec --on @front printed %q, want only web", r.stdout)
		}
		r = mustFerry(t, 1, dir, "", "exec", "--", `echo out; echo err >&2; [ "$(hostname)" = db ] && exit 3; true`)
		if diff := cmp.Diff([]string{"db> out", "web> out"}, sortedLines(r.stdout)); diff != "" {
			t.Errorf("failing exec stdout (-want +got):\n%s", diff)
		}
		wantErr := []string{"  db: exit status 3", "db> err", "ferry exec: failed on 1 of 2 machines:", "web> err"}
		if diff := cmp.Diff(wantErr, sortedLines(r.stderr)); diff != "" {
			t.Errorf("failing exec stderr (-want +got):\n%s", diff)
		}
		if !strings.HasSuffix(r.stderr, "ferry exec: failed on 1 of 2 machines:\n  db: exit status 3\n") {
			t.Errorf("failing exec stderr does not end with the summary:\n%s", r.stderr)
		}
	})

	t.Run("ssh command", func(t *testing.T) {
		r := mustFerry(t, 7, dir, "", "ssh", "web", "--", "echo out; echo err >&2; exit 7")
		if r.stdout != "out\n" || r.stderr != "err\n" {
			t.Errorf("ssh web: stdout %q, stderr %q; want %q and %q", r.stdout, r.stderr, "out\n", "err\n")
		}
		r = mustFerry(t, 0, dir, "", "ssh", "db", "--", "cat")
		if r.stdout != "" {
			t.Errorf("ssh db -- cat with empty stdin printed %q", r.stdout)
		}
		r = mustFerry(t, 0, dir, "piped\n", "ssh", "db", "cat")
		if r.stdout != "piped\n" {
			t.Errorf("ssh db cat printed %q, want stdin back", r.stdout)
		}
		r = mustFerry(t, 1, dir, "", "ssh", "mail", "--", "true")
		if !strings.Contains(r.stderr, "mail: no such machine in the configuration; machines: web, db") {
			t.Errorf("ssh to an unknown machine: %s", r.stderr)
		}
	})

	t.Run("ssh shell", func(t *testing.T) {
		// No terminal here: OpenSSH runs the login shell on stdin.
		r := mustFerry(t, 5, dir, "echo via-openssh $(hostname)\nexit 5\n", "ssh", "web")
		if !strings.Contains(r.stdout, "via-openssh web\n") {
			t.Errorf("ssh web (OpenSSH) printed %q\nstderr: %s", r.stdout, r.stderr)
		}
		// db's key comes from state.
		r = mustFerry(t, 0, dir, "hostname\n", "ssh", "db")
		if r.stdout != "db\n" || strings.Contains(r.stderr, "trusting") {
			t.Errorf("ssh db (OpenSSH): stdout %q, stderr %q", r.stdout, r.stderr)
		}
		// A wrong pinned key: neither OpenSSH nor ferry's SSH logs in.
		t.Setenv("FERRY_VAR_web_key", db.HostKey)
		r = mustFerry(t, 255, dir, "echo logged-in\n", "ssh", "web")
		if strings.Contains(r.stdout, "logged-in") || !strings.Contains(r.stderr, "Host key verification failed") {
			t.Errorf("ssh web with a wrong pinned key: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		r = mustFerry(t, 1, dir, "", "ssh", "web", "--", "echo logged-in")
		if r.stdout != "" || !strings.Contains(r.stderr, "host key mismatch") {
			t.Errorf("ssh web -- CMD with a wrong pinned key: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		t.Setenv("FERRY_VAR_web_key", web.HostKey)
	})

	info := func(t *testing.T) map[string]machineInfo {
		t.Helper()
		r := mustFerry(t, 0, dir, "", "info", "--json")
		var infos []machineInfo
		if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
			t.Fatalf("info --json: %v\n%s", err, r.stdout)
		}
		out := map[string]machineInfo{}
		for _, in := range infos {
			in.DeployedAt = nil // checked apart
			out[in.Name] = in
		}
		return out
	}
	t.Run("info", func(t *testing.T) {
		want := map[string]machineInfo{
			"web": {Name: "web", Addr: "machine.web", Target: "root@" + web.Address(), Tags: []string{"front"}, Generation: 1, Deployed: web1, Current: web1, Status: statusUpToDate},
			"db":  {Name: "db", Addr: "machine.db", Target: "root@" + db.Address(), Tags: []string{"back"}, Generation: 1, Deployed: db1, Current: db1, Status: statusUpToDate},
		}
		if diff := cmp.Diff(want, info(t)); diff != "" {
			t.Errorf("info --json (-want +got):\n%s", diff)
		}
		r := mustFerry(t, 0, dir, "", "info", "--on", "web")
		for _, s := range []string{"web  root@" + web.Address() + "  @front\n", "    deployed:  " + web1 + "\n", "generation 1, at ", "    running:   " + web1 + "\n", "    status:    up to date\n"} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("info --on web lacks %q:\n%s", s, r.stdout)
			}
		}
		if strings.Contains(r.stdout, "db") {
			t.Errorf("info --on web shows db:\n%s", r.stdout)
		}
	})

	t.Run("unreachable", func(t *testing.T) {
		l, err := net.Listen("tcp", net.JoinHostPort(db.Addr, "0"))
		if err != nil {
			t.Fatal(err)
		}
		closed := l.Addr().(*net.TCPAddr).Port
		l.Close()
		t.Setenv("FERRY_VAR_db_port", strconv.Itoa(closed))
		defer t.Setenv("FERRY_VAR_db_port", strconv.Itoa(db.Port))
		got := info(t)["db"]
		if got.Status != statusUnreachable || !strings.Contains(got.Unreachable, "connection refused") || got.Deployed != db1 {
			t.Errorf("info of an unreachable db: %+v", got)
		}
		if got := info(t)["web"]; got.Status != statusUpToDate {
			t.Errorf("info of web while db is unreachable: %+v", got)
		}
		r := mustFerry(t, 1, dir, "", "check")
		if !strings.Contains(r.stdout, "web: ok\ndb: not checked: connect to root@"+net.JoinHostPort(db.Addr, strconv.Itoa(closed))) {
			t.Errorf("check with db unreachable printed:\n%s", r.stdout)
		}
		r = mustFerry(t, 1, dir, "", "exec", "--", "hostname")
		if r.stdout != "web> web\n" || !strings.Contains(r.stderr, "ferry exec: failed on 1 of 2 machines:\n  db: unreachable: connect to ") {
			t.Errorf("exec with db unreachable: stdout %q, stderr:\n%s", r.stdout, r.stderr)
		}
	})

	t.Run("not deployed", func(t *testing.T) {
		// Another deployment has no state: db's key is trusted on first use.
		r := mustFerry(t, 0, dir, "", "-d", "fresh", "info", "--json")
		var infos []machineInfo
		if err := json.Unmarshal([]byte(r.stdout), &infos); err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			if in.Status != statusNotDeployed || in.Deployed != "" || in.Current == "" {
				t.Errorf("info -d fresh: %+v, want not deployed, running a system", in)
			}
		}
		fp, _ := remote.Fingerprint(db.HostKey)
		r = mustFerry(t, 0, dir, "hostname\n", "-d", "fresh", "ssh", "db")
		if r.stdout != "db\n" || !strings.Contains(r.stderr, "note: no pinned host key for "+db.Address()+" (none in the configuration, none recorded by a deploy): trusting the key it presents now, "+fp) {
			t.Errorf("ssh db in a fresh deployment: stdout %q, stderr %q", r.stdout, r.stderr)
		}
		r = mustFerry(t, 0, dir, "", "-d", "fresh", "check")
		if r.stdout != "web: not deployed by ferry (running "+web1+")\ndb: not deployed by ferry (running "+db1+")\n" {
			t.Errorf("check -d fresh printed:\n%s", r.stdout)
		}
	})

	t.Run("check", func(t *testing.T) {
		r := mustFerry(t, 0, dir, "", "check")
		if r.stdout != "web: ok\ndb: ok\n" {
			t.Errorf("check printed %q", r.stdout)
		}
		r = mustFerry(t, 0, dir, "", "check", "--json")
		var checks []machineCheck
		if err := json.Unmarshal([]byte(r.stdout), &checks); err != nil {
			t.Fatal(err)
		}
		want := []machineCheck{
			{Name: "web", OK: true, Deployed: web1, Current: web1, FailedUnits: []string{}},
			{Name: "db", OK: true, Deployed: db1, Current: db1, FailedUnits: []string{}},
		}
		if diff := cmp.Diff(want, checks); diff != "" {
			t.Errorf("check --json (-want +got):\n%s", diff)
		}

		// Someone switches web's system behind ferry's back.
		link := filepath.Join(web.Root, "run", "current-system")
		if err := os.Remove(link); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(db1, link); err != nil {
			t.Fatal(err)
		}
		r = mustFerry(t, 1, dir, "", "check")
		wantOut := "web: drift: running " + db1 + ", but ferry deployed " + web1 + "\ndb: ok\n"
		if r.stdout != wantOut {
			t.Errorf("check after drift printed:\n%s\nwant:\n%s", r.stdout, wantOut)
		}
		if r.stderr != "Error: check found problems on 1 of 2 machines: web\n" {
			t.Errorf("check after drift: stderr %q", r.stderr)
		}
		if got := info(t)["web"]; got.Status != statusDrift || got.Current != db1 {
			t.Errorf("info after drift: web is %q running %q, want drift running %s", got.Status, got.Current, db1)
		}
		if err := os.Remove(link); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(web1, link); err != nil {
			t.Fatal(err)
		}
		mustFerry(t, 0, dir, "", "check")
	})

	generations := func(t *testing.T) []generation {
		t.Helper()
		r := mustFerry(t, 0, dir, "", "generations", "web", "--json")
		var gens []generation
		if err := json.Unmarshal([]byte(r.stdout), &gens); err != nil {
			t.Fatal(err)
		}
		for i := range gens {
			gens[i].Date = time.Time{}
		}
		return gens
	}
	t.Run("generations", func(t *testing.T) {
		if diff := cmp.Diff([]generation{{Number: 1, Path: web1, Current: true}}, generations(t)); diff != "" {
			t.Errorf("generations --json (-want +got):\n%s", diff)
		}
		r := mustFerry(t, 0, dir, "", "generations", "web")
		if !strings.HasPrefix(r.stdout, "Generations of web (root@"+web.Address()+"):\n*    1  ") || !strings.HasSuffix(r.stdout, web1+"  (current)\n") {
			t.Errorf("generations web printed:\n%s", r.stdout)
		}
	})

	// A second deploy makes generation 2 on web; db is unchanged.
	write("web.nix", "{ pkgs, ... }: { environment.systemPackages = [ pkgs.hello pkgs.htop ]; }\n")
	mustFerry(t, 0, dir, "", "apply", "--auto-approve")
	web2, _ := web.CurrentSystem()
	if web2 == web1 || web2 == "" {
		t.Fatalf("second deploy: web runs %q, want a new system", web2)
	}
	if diff := cmp.Diff([]generation{{Number: 1, Path: web1}, {Number: 2, Path: web2, Current: true}}, generations(t)); diff != "" {
		t.Fatalf("generations after the second deploy (-want +got):\n%s", diff)
	}

	t.Run("rollback", func(t *testing.T) {
		expect := func(t *testing.T, path string, gen int) {
			t.Helper()
			if cur, _ := web.CurrentSystem(); cur != path {
				t.Errorf("web runs %s, want %s", cur, path)
			}
			if prof, _ := web.SystemProfile(); prof != path {
				t.Errorf("web's system profile is %s, want %s", prof, path)
			}
			rec := readState().Machines["machine.web"]
			if rec == nil || rec.Path != path || rec.Generation != gen || rec.Activation != "switch" || rec.HostKey != web.HostKey {
				t.Errorf("state records web as %+v, want path %s, generation %d", rec, path, gen)
			}
		}
		before := readState().Serial
		r := mustFerry(t, 0, dir, "", "rollback", "web", "1")
		want := "web: rolled back from generation 2 (" + web2 + ")\n     to generation 1 (" + web1 + ")\n"
		if !strings.HasPrefix(r.stdout, want) || !strings.Contains(r.stdout, `State of "day2" saved as serial `+strconv.FormatUint(before+1, 10)) {
			t.Errorf("rollback web 1 printed:\n%s\nwant it to start with:\n%s", r.stdout, want)
		}
		expect(t, web1, 1)
		if rec := readState().Machines["machine.web"]; rec == nil || !strings.HasSuffix(rec.Drv, ".drv") {
			t.Errorf("state records web's derivation as %+v, want the .drv of generation 1", rec)
		}
		mustFerry(t, 0, dir, "", "check") // the state follows the host: no drift
		// The next plan deploys the configured system again, with the
		// package diff from the rolled-back one.
		r = mustFerry(t, 2, dir, "", "plan", "--detailed-exitcode")
		if !strings.Contains(r.stdout, "system:  "+web2) || !strings.Contains(r.stdout, "+ htop 3.2.2") {
			t.Errorf("plan after the rollback:\n%s", r.stdout)
		}

		r = mustFerry(t, 1, dir, "", "rollback", "web")
		if !strings.Contains(r.stderr, "machine web: no generation older than the current one (1) exists; see `ferry generations web`") {
			t.Errorf("rollback past the oldest generation: %s", r.stderr)
		}
		mustFerry(t, 0, dir, "", "rollback", "web", "2")
		expect(t, web2, 2)
		r = mustFerry(t, 0, dir, "", "rollback", "web", "2")
		if !strings.Contains(r.stdout, "web already runs generation 2") || strings.Contains(r.stdout, "saved as serial") {
			t.Errorf("rollback to the current generation printed:\n%s", r.stdout)
		}
		mustFerry(t, 0, dir, "", "rollback", "web")
		expect(t, web1, 1)
	})

	t.Run("show", func(t *testing.T) {
		r := mustFerry(t, 0, dir, "", "show")
		fp, _ := remote.Fingerprint(web.HostKey)
		for _, s := range []string{
			"\n# machine.db  [",
			"\n# machine.web  [ferry.star:10:1]\n",
			"    target     = root@" + web.Address() + "\n    system     = " + web1 + "\n    generation = 1\n    deployed   = ",
			" (switch)\n    host key   = " + fp + "\n",
		} {
			if !strings.Contains(r.stdout, s) {
				t.Errorf("show lacks %q:\n%s", s, r.stdout)
			}
		}
	})
}
