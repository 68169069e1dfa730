package lang

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
)

// testHostKey is a real ed25519 public key (its private half is thrown
// away); the comment is not part of what ssh() keeps.
const testHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1+rfkk2PNXRovHJCe5pKYf5oXo9dzo4Urcu8ncxcb1"

func TestLoadMachines(t *testing.T) {
	main := `deployment("staging")
nixpkgs("//pkgs/nixpkgs")
cert = null.resource("cert")
git = machine(
    name = "gitServer",
    target = ssh(host = "10.0.0.2", host_key = "` + testHostKey + ` root@git"),
    modules = [nix.module("./git.nix")],
    tags = ["git", "staging"],
)
defaults(modules = [nix.module("./common.nix"), nix.inline("{ time.timeZone = \"UTC\"; }")])
proxy = machine(
    name = "reverse-proxy",
    target = ssh(host = "proxy.example.com", user = "deploy", sudo = True, jump = ssh(host = "bastion", port = 2222)),
    modules = [nix.module("./proxy.nix", args = {"gitHost": git.target.host, "cert": cert.id, "ports": [80, 443]})],
    depends_on = [git, cert, "machine.db"],
    build_on_target = True,
)
load("//hosts/db.star", "db")
output("proxy", proxy.target.host)
`
	db := `db = machine("db", ssh(host = "10.0.0.3", port = 2200), modules = [
    nix.module("./db.nix"),
    nix.inline("{ services.postgresql.enable = true; }"),
])
`
	files := map[string]string{
		"ferry.star":               main,
		"hosts/db.star":            db,
		"common.nix":               "{ services.openssh.enable = true; }\n",
		"git.nix":                  "{ imports = [ ./lib.nix ]; }\n",
		"proxy.nix":                "{ gitHost, cert, ports, ... }: { }\n",
		"lib.nix":                  "{ }\n",
		"notes.txt":                "not Nix, not hashed\n",
		"sub/deeper.nix":           "{ } # another directory: not hashed\n",
		"hosts/db.nix":             "{ }\n",
		"pkgs/nixpkgs/default.nix": "{ } # nixpkgs is not digested by lang\n",
	}
	dir := writeFiles(t, files)
	cfg, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
	if err != nil {
		t.Fatal(err)
	}
	pos := func(file string, line, col int) spec.Pos { return spec.Pos{File: file, Line: line, Col: col} }
	common := spec.Module{Path: filepath.Join(dir, "common.nix"), Pos: pos("ferry.star", 10, 21)}
	utc := spec.Module{Inline: `{ time.timeZone = "UTC"; }`, Pos: pos("ferry.star", 10, 49)}
	want := []*spec.Machine{
		{
			Name: "gitServer",
			Addr: "machine.gitServer",
			Target: spec.Target{
				Kind: "ssh", Host: "10.0.0.2", Port: 22, User: "root", HostKey: testHostKey,
				Defaults: []string{"port", "user"},
				Pos:      pos("ferry.star", 6, 14),
			},
			Modules: []spec.Module{common, utc, {Path: filepath.Join(dir, "git.nix"), Pos: pos("ferry.star", 7, 16)}},
			Tags:    []string{"git", "staging"},
			Pos:     pos("ferry.star", 4, 7),
		},
		{
			Name: "reverse-proxy",
			Addr: "machine.reverse-proxy",
			Target: spec.Target{
				Kind: "ssh", Host: "proxy.example.com", Port: 22, User: "deploy", Sudo: true,
				Jump:     &spec.Target{Kind: "ssh", Host: "bastion", Port: 2222, User: "root", Defaults: []string{"user"}, Pos: pos("ferry.star", 13, 83)},
				Defaults: []string{"port"},
				Pos:      pos("ferry.star", 13, 14),
			},
			Modules: []spec.Module{common, utc, {
				Path: filepath.Join(dir, "proxy.nix"),
				Args: map[string]any{
					"gitHost": "10.0.0.2",
					"cert":    spec.Ref{Addr: "null.resource.cert", Attr: "id"},
					"ports":   []any{spec.Number(80), spec.Number(443)},
				},
				Pos: pos("ferry.star", 14, 16),
			}},
			DependsOn:     []string{"machine.gitServer", "null.resource.cert", "machine.db"},
			BuildOnTarget: true,
			Pos:           pos("ferry.star", 11, 9),
		},
		{
			Name:   "db",
			Addr:   "machine.db",
			Target: spec.Target{Kind: "ssh", Host: "10.0.0.3", Port: 2200, User: "root", Defaults: []string{"user"}, Pos: pos("hosts/db.star", 1, 20)},
			Modules: []spec.Module{
				common, utc,
				{Path: filepath.Join(dir, "hosts", "db.nix"), Pos: pos("hosts/db.star", 2, 5)},
				{Inline: "{ services.postgresql.enable = true; }", Pos: pos("hosts/db.star", 3, 5)},
			},
			Pos: pos("hosts/db.star", 1, 6),
		},
	}
	for _, m := range want {
		m.MagicRollback, m.ConfirmTimeout = true, 30*time.Second // the defaults
	}
	if diff := cmp.Diff(want, cfg.Machines); diff != "" {
		t.Errorf("machines (-want +got):\n%s", diff)
	}
	if got, want := cfg.Nixpkgs, filepath.Join(dir, "pkgs", "nixpkgs"); got != want {
		t.Errorf("nixpkgs = %q, want %q", got, want)
	}
	wantFiles := map[string]string{}
	for _, f := range []string{"ferry.star", "hosts/db.star", "common.nix", "git.nix", "proxy.nix", "lib.nix", "hosts/db.nix"} {
		wantFiles[f] = sha(files[f])
	}
	if diff := cmp.Diff(wantFiles, cfg.Inputs.Files); diff != "" {
		t.Errorf("input files (-want +got):\n%s", diff)
	}
	if len(cfg.Inputs.Vars) != 0 {
		t.Errorf("vars = %v, want none (nixpkgs is not a var)", cfg.Inputs.Vars)
	}
	wantOut := []*spec.Output{{Name: "proxy", Value: "proxy.example.com", Pos: pos("ferry.star", 19, 1)}}
	if diff := cmp.Diff(wantOut, cfg.Outputs); diff != "" {
		t.Errorf("outputs (-want +got):\n%s", diff)
	}

	// Machines sharing a module share no maps.
	web := `m = nix.module("./proxy.nix", args = {"gitHost": "h", "ports": [1]})
defaults(modules = [m])
machine("a", ssh(host = "a"), modules = [m])
machine("b", ssh(host = "b"))
`
	dir = writeFiles(t, map[string]string{"ferry.star": web, "proxy.nix": files["proxy.nix"]})
	cfg, err = Load(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	a, b := cfg.Machines[0], cfg.Machines[1]
	a.Modules[0].Args["gitHost"] = "changed"
	a.Modules[1].Args["ports"].([]any)[0] = "changed"
	unchanged := map[string]any{"gitHost": "h", "ports": []any{spec.Number(1)}}
	if got := a.Modules[1].Args["gitHost"]; got != "h" {
		t.Errorf("machine a's own module shares args with its default module: gitHost = %v", got)
	}
	if got := a.Modules[0].Args["ports"]; !cmp.Equal(got, []any{spec.Number(1)}) {
		t.Errorf("machine a's default module shares ports with its own module: %v", got)
	}
	if diff := cmp.Diff(unchanged, b.Modules[0].Args); diff != "" {
		t.Errorf("machine b's default module args changed with machine a's (-want +got):\n%s", diff)
	}
}

// TestMachineBuiltinErrors checks the exact text of the problems
// machine(), ssh(), nix.module(), nix.inline(), defaults() and nixpkgs()
// report. Each case is one ferry.star beside a.nix, dir/default.nix and
// empty/; $DIR stands for the configuration directory.
func TestMachineBuiltinErrors(t *testing.T) {
	const t0 = `t = ssh(host = "h")` + "\n"
	tests := []struct {
		name string
		src  string
		want string
	}{
		// machine()
		{"machine ok", t0 + `machine("m", t, modules = [nix.module("./a.nix"), nix.module("./dir")])`, ""},
		{"machine missing everything", "machine()", "ferry.star:1:1: machine: missing required argument \"name\""},
		{"machine None is not passed", t0 + "machine(None, t)", `ferry.star:2:1: machine: missing required argument "name"`},
		{"machine too many positional", t0 + `machine("m", t, [], [], [], False, [], [], True, "30s", False, None, None, None, None, "push", 1)`, `ferry.star:2:1: machine: got 17 positional arguments, want at most 16`},
		{"machine name twice", t0 + `machine("m", t, name = "n")`, `ferry.star:2:1: machine: got two values for argument "name"`},
		{"machine unknown argument", t0 + `machine("m", t, tag = [])`, `ferry.star:2:1: machine: unexpected argument "tag" (did you mean "tags"?)`},
		{"machine name type", t0 + `machine(1, t)`, `ferry.star:2:1: machine: argument "name": got int, want string`},
		{"machine name", t0 + `machine("web.1", t)`, `ferry.star:2:1: machine: invalid name "web.1": use letters, digits, "_" and "-"`},
		{"machine name reference", t0 + `a = null.resource("a")` + "\n" + `machine(a.id, t)`,
			`ferry.star:3:1: machine: argument "name": got the reference null.resource.a.id, whose value is only known after apply; pass a plain string`},
		{"machine duplicate", t0 + "machine(\"m\", t)\n\nmachine(\"m\", t)", `ferry.star:4:1: duplicate machine machine.m (first declared at ferry.star:2:1)`},
		{"machine target", t0 + `machine("m", "h")`, `ferry.star:2:1: machine: argument "target": got string, want a target such as ssh(host = "10.0.0.2")`},
		{"machine target machine", t0 + "a = machine(\"a\", t)\nmachine(\"m\", a)",
			`ferry.star:3:1: machine: argument "target": got the machine machine.a; pass a target such as ssh(host = "10.0.0.2"), or a.target to reach it the same way`},
		{"machine modules not a list", t0 + `machine("m", t, modules = nix.inline("{ }"))`, `ferry.star:2:1: machine: argument "modules": got nix.module, want list of modules from nix.module() or nix.inline()`},
		{"machine modules element", t0 + `machine("m", t, modules = [nix.inline("{ }"), "./a.nix"])`, `ferry.star:2:1: machine: argument "modules"[1]: got string, want a module from nix.module() or nix.inline()`},
		{"machine tags", t0 + `machine("m", t, tags = "web")`, `ferry.star:2:1: machine: argument "tags": got string, want list of strings`},
		{"machine tag element", t0 + `machine("m", t, tags = ("web", None))`, `ferry.star:2:1: machine: argument "tags"[1]: got NoneType, want string`},
		{"machine tag", t0 + `machine("m", t, tags = ["web", "@db", "a b"])`, "ferry.star:2:1: machine: invalid tag \"@db\": use letters, digits, \"_\" and \"-\"\n" +
			"ferry.star:2:1: machine: invalid tag \"a b\": use letters, digits, \"_\" and \"-\""},
		{"machine depends_on", t0 + `machine("m", t, depends_on = "machine.a")`, `ferry.star:2:1: machine: argument "depends_on": got string, want list of resources, machines or addresses`},
		{"machine depends_on element", t0 + `machine("m", t, depends_on = [t])`, `ferry.star:2:1: machine: argument "depends_on": got a target in the list, want a resource, a machine or an address string`},
		{"machine build_on_target", t0 + `machine("m", t, build_on_target = 1)`, `ferry.star:2:1: machine: argument "build_on_target": got int, want bool`},
		{"machine as a resource argument", t0 + "m = machine(\"m\", t)\nnull.resource(\"r\", triggers = m)",
			`ferry.star:3:1: null.resource: argument "triggers": got the machine machine.m itself; pass one of its attributes, such as m.target.host or m.name`},
		{"machine in a resource argument", t0 + "m = machine(\"m\", t)\nnull.resource(\"r\", triggers = {\"m\": [m]})",
			`ferry.star:3:1: null.resource: argument "triggers"["m"][0]: got the machine machine.m itself; pass one of its attributes, such as m.target.host or m.name`},
		{"machine output", t0 + "m = machine(\"m\", t)\noutput(\"m\", m)",
			`ferry.star:3:1: output "m": got the machine machine.m itself; pass one of its attributes, such as m.target.host or m.name`},
		{"machine unknown attribute", t0 + "m = machine(\"m\", t)\nx = m.tag",
			`ferry.star:3:6: machine.m has no attribute "tag" (did you mean "tags"?); valid attributes: address, name, tags, target`},
		{"resource depends_on a machine", t0 + "m = machine(\"m\", t)\nnull.resource(\"r\", depends_on = [m, 1])",
			`ferry.star:3:1: null.resource: argument "depends_on": got a int in the list, want a resource, a machine or an address string`},

		// ssh()
		{"ssh missing host", `ssh()`, `ferry.star:1:1: ssh: missing required argument "host"`},
		{"ssh host type", `ssh(22)`, `ferry.star:1:1: ssh: argument "host": got int, want string`},
		{"ssh empty host", `ssh("")`, `ferry.star:1:1: ssh: host is empty: pass the machine's address or DNS name`},
		{"ssh host with user", `ssh("admin@h")`, `ferry.star:1:1: ssh: invalid host "admin@h": pass the user separately, as user = "admin"`},
		{"ssh host with port", `ssh("h:2222")`, `ferry.star:1:1: ssh: invalid host "h:2222": pass the port separately, as host = "h", port = 2222`},
		{"ssh host with colon", `ssh("h:x")`, `ferry.star:1:1: ssh: invalid host "h:x": a host name cannot contain ":"`},
		{"ssh host with brackets", `ssh("[::1]")`, `ferry.star:1:1: ssh: invalid host "[::1]": write an IPv6 address without brackets, and the port as port = ...`},
		{"ssh host with space", `ssh("a b")`, `ferry.star:1:1: ssh: invalid host "a b": it contains white space`},
		{"ssh host option", `ssh("-oProxyCommand=x")`, `ferry.star:1:1: ssh: invalid host "-oProxyCommand=x": it cannot start with "-"`},
		{"ssh host reference of the wrong kind", "a = null.resource(\"a\")\nssh(a.triggers)", `ferry.star:2:1: ssh: argument "host": got reference null.resource.a.triggers (dict), want string`},
		{"ssh port format", "a = null.resource(\"a\")\nssh(\"h\", port = format(\"{}\", a.id))", `ferry.star:2:1: ssh: argument "port": got format("{}", null.resource.a.id) (string), want int or float`},
		{"ssh port type", `ssh("h", port = "22")`, `ferry.star:1:1: ssh: argument "port": got string, want int`},
		{"ssh port zero", `ssh("h", port = 0)`, `ferry.star:1:1: ssh: port 0 is out of range: use 1 to 65535`},
		{"ssh port too large", `ssh("h", port = 65536)`, `ferry.star:1:1: ssh: port 65536 is out of range: use 1 to 65535`},
		{"ssh port huge", `ssh("h", port = 1 << 70)`, `ferry.star:1:1: ssh: argument "port": 1180591620717411303424 is too large`},
		{"ssh empty user", `ssh("h", user = "")`, `ferry.star:1:1: ssh: user is empty: pass a user name, or leave user out for "root"`},
		{"ssh user", `ssh("h", user = "a@b")`, `ferry.star:1:1: ssh: invalid user "a@b": pass a user name only`},
		{"ssh empty host_key", `ssh("h", host_key = " ")`, `ferry.star:1:1: ssh: host_key is empty: ` + hostKeyForm + `; or leave host_key out to pin the key on first use`},
		{"ssh host_key without type", `ssh("h", host_key = "AAAAC3NzaC1lZDI1NTE5")`, `ferry.star:1:1: ssh: host_key "AAAAC3NzaC1lZDI1NTE5" has unknown key type "AAAAC3Nz...": ` + hostKeyForm},
		{"ssh host_key dsa", `ssh("h", host_key = "ssh-dss AAAA")`, `ferry.star:1:1: ssh: host_key "ssh-dss AAAA" has unknown key type "ssh-dss": ` + hostKeyForm},
		{"ssh host_key without data", `ssh("h", host_key = "ssh-ed25519")`, `ferry.star:1:1: ssh: host_key "ssh-ed25519" has no key data after the type: ` + hostKeyForm},
		{"ssh host_key not base64", `ssh("h", host_key = "ssh-ed25519 AAAA!")`, `ferry.star:1:1: ssh: host_key "ssh-ed25519 AAAA!" has key data that is not base64: ` + hostKeyForm},
		{"ssh host_key truncated", `ssh("h", host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5")`, `ferry.star:1:1: ssh: host_key "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5" is not a valid ssh-ed25519 key: ` + hostKeyForm},
		{"ssh host_key wrong type", `ssh("h", host_key = "ssh-rsa ` + strings.TrimPrefix(testHostKey, "ssh-ed25519 ") + `")`,
			`ferry.star:1:1: ssh: host_key "ssh-rsa AAAAC3NzaC1lZDI1NTE5AAAAIJ1+r..." says ssh-rsa but holds a ssh-ed25519 key: ` + hostKeyForm},
		{"ssh host_key known_hosts", `ssh("h", host_key = "10.0.0.2 ` + testHostKey + `")`,
			`ferry.star:1:1: ssh: host_key "10.0.0.2 ssh-ed25519 AAAAC3NzaC1lZDI1..." starts with the host "10.0.0.2", as in known_hosts: drop it and write "ssh-ed25519 AAAAC3Nz..."`},
		{"ssh jump", `ssh("h", jump = "bastion")`, `ferry.star:1:1: ssh: argument "jump": got string, want another ssh() target`},
		{"ssh jump machine", "b = machine(\"bastion\", ssh(\"b\"))\nssh(\"h\", jump = b)", `ferry.star:2:1: ssh: argument "jump": got the machine machine.bastion; pass its target: bastion.target`},
		{"ssh sudo", `ssh("h", sudo = "yes")`, `ferry.star:1:1: ssh: argument "sudo": got string, want bool`},
		{"ssh target as a value", t0 + `output("t", t)`, `ferry.star:2:1: output "t": got the target ssh(host = "h", port = 22, user = "root") itself; pass one of its attributes, such as its .host`},
		{"ssh unknown attribute", t0 + `x = t.address`, `ferry.star:2:6: target has no attribute "address"; valid attributes: host, host_key, jump, port, sudo, user`},

		// nix.module() and nix.inline()
		{"module missing path", `nix.module()`, `ferry.star:1:1: nix.module: missing required argument "path"`},
		{"module path type", `nix.module(1)`, `ferry.star:1:1: nix.module: argument "path": got int, want string`},
		{"module empty path", `nix.module("")`, `ferry.star:1:1: nix.module: path is empty: pass the module's file, such as "./web.nix"`},
		{"module missing file", "\n\nm = nix.module(\"./git.nix\")", `ferry.star:3:5: nix.module: ./git.nix: no such file`},
		{"module missing rooted file", `nix.module("//lib/git.nix")`, `ferry.star:1:1: nix.module: //lib/git.nix: no such file`},
		{"module missing file from a subdirectory", `load("//lib/x.star", "m")`, `lib/x.star:1:5: nix.module: ./git.nix: no such file (looked for lib/git.nix in the configuration directory)`},
		{"module escapes", `nix.module("../a.nix")`, `ferry.star:1:1: nix.module: ../a.nix: the path escapes the configuration directory`},
		{"module absolute", `nix.module("/etc/nixos/configuration.nix")`,
			`ferry.star:1:1: nix.module: /etc/nixos/configuration.nix: absolute paths are not allowed: write "//path" for a path from the configuration directory`},
		{"module directory without default.nix", `nix.module("./empty")`, `ferry.star:1:1: nix.module: ./empty: is a directory without default.nix: name the module file`},
		{"module the configuration directory", `nix.module("//")`, `ferry.star:1:1: nix.module: //: the path names the configuration directory, not a file`},
		{"module args type", `nix.module("./a.nix", args = [1])`, `ferry.star:1:1: nix.module: argument "args": got list, want dict`},
		{"module args key", `nix.module("./a.nix", args = {"git host": 1})`,
			`ferry.star:1:1: nix.module: argument "args": key "git host" is not a Nix identifier, so a module cannot take it as an argument: use letters, digits, "_", "'" and "-", not starting with a digit`},
		{"module args non-string key", `nix.module("./a.nix", args = {1: 1})`, `ferry.star:1:1: nix.module: argument "args": dict key 1 is a int; keys must be strings`},
		{"module args reserved key", `nix.module("./a.nix", args = {"$ref": 1})`, `ferry.star:1:1: nix.module: argument "args": dict key "$ref" starts with "$", which ferry reserves`},
		{"module args machine", t0 + "m = machine(\"m\", t)\nnix.module(\"./a.nix\", args = {\"peer\": m})",
			`ferry.star:3:1: nix.module: argument "args"["peer"]: got the machine machine.m itself; pass one of its attributes, such as m.target.host or m.name`},
		{"module args target", t0 + `nix.module("./a.nix", args = t)`,
			`ferry.star:2:1: nix.module: argument "args": got the target ssh(host = "h", port = 22, user = "root") itself; pass one of its attributes, such as its .host`},
		{"module as a value", `null.resource("r", triggers = {"m": nix.module("./a.nix")})`,
			`ferry.star:1:1: null.resource: argument "triggers"["m"]: got the module <nix.module a.nix>; modules go in machine(modules = [...]) or defaults(modules = [...])`},
		{"inline missing text", `nix.inline()`, `ferry.star:1:1: nix.inline: missing required argument "text"`},
		{"inline text type", `nix.inline({})`, `ferry.star:1:1: nix.inline: argument "text": got dict, want string`},
		{"inline empty", `nix.inline("\n")`, `ferry.star:1:1: nix.inline: text is empty: write a NixOS module such as "{ services.openssh.enable = true; }"`},
		{"inline unknown argument", `nix.inline("{ }", args = {})`, `ferry.star:1:1: nix.inline: unexpected argument "args"`},

		// defaults()
		{"defaults twice", "defaults(modules = [])\n\ndefaults([])",
			`ferry.star:3:1: defaults() is called a second time; the first call is at ferry.star:1:1: call it once, with every default module`},
		{"defaults missing modules", "defaults()", `ferry.star:1:1: defaults: give modules, build, build_host or transfer: what every machine gets`},
		{"defaults transfer", `defaults(transfer = "pull")`, `ferry.star:1:1: defaults: transfer "pull": want "push", "substitute" or nix_cache(...)`},
		{"machine transfer type", t0 + `machine("m", t, transfer = 1)`, `ferry.star:2:1: machine: argument "transfer": got int, want "push", "substitute" or nix_cache(...)`},
		{"machine transfer substitute", t0 + `machine("m", t, transfer = "substitute")`, ""},

		// nix_cache()
		{"nix_cache ok", `nix_cache(url = "s3://b?region=x", substituter = "https://b", public_key = "k:AAAA", secret_key = "k:BBBB")`, ""},
		{"nix_cache read only", `nix_cache(substituter = "https://b", public_key = "k:AAAA")`, ""},
		{"nix_cache file substituter", `nix_cache(url = "file:///tmp/c", public_key = "k:AAAA", secret_key = "k:BBBB")`, ""},
		{"nix_cache no public key", `nix_cache(substituter = "https://b")`, `ferry.star:1:1: nix_cache: missing required argument "public_key"`},
		{"nix_cache no substituter", `nix_cache(url = "s3://b", public_key = "k:AAAA", secret_key = "k:BBBB")`, `ferry.star:1:1: nix_cache: missing argument "substituter": where the hosts read the cache, e.g. "https://cache.example.com"`},
		{"nix_cache url without key", `nix_cache(url = "s3://b", substituter = "https://b", public_key = "k:AAAA")`, `ferry.star:1:1: nix_cache: url is set but secret_key is not: ferry signs what it uploads; pass secret_key (e.g. var("cache_secret_key")), or leave url out if someone else fills the cache`},
		{"nix_cache secret key type", `nix_cache(url = "s3://b", substituter = "https://b", public_key = "k:AAAA", secret_key = 1)`, `ferry.star:1:1: nix_cache: argument "secret_key": want the key as a string, e.g. from var()`},
		{"nix_cache bad url", `nix_cache(url = "bucket", substituter = "https://b", public_key = "k:AAAA", secret_key = "k:B")`, `ferry.star:1:1: nix_cache: url "bucket" is not a bucket URL: want "s3://bucket?region=...", "gs://bucket" or "file:///path"`},
		{"defaults modules element", t0 + `defaults(modules = [nix.inline("{ }"), t])`, `ferry.star:2:1: defaults: argument "modules"[1]: got target, want a module from nix.module() or nix.inline()`},

		// nixpkgs()
		{"nixpkgs ok", `nixpkgs("./dir")`, ""},
		{"nixpkgs twice", "nixpkgs(\"./dir\")\nnixpkgs(path = \"./dir\")", `ferry.star:2:1: nixpkgs() is called a second time; the first call is at ferry.star:1:1: call it once`},
		{"nixpkgs missing path", `nixpkgs()`, `ferry.star:1:1: nixpkgs: pass path (a nixpkgs source tree) or flake and input (an input of a flake, as its flake.lock pins it)`},
		{"nixpkgs empty path", `nixpkgs("")`, `ferry.star:1:1: nixpkgs: path is empty: pass the nixpkgs source tree, such as "./nixpkgs", or leave nixpkgs() out to use <nixpkgs> from NIX_PATH`},
		{"nixpkgs missing", `nixpkgs("./nixpkgs")`, `ferry.star:1:1: nixpkgs: ./nixpkgs: no such directory (looked for $DIR/nixpkgs)`},
		{"nixpkgs file", `nixpkgs("//a.nix")`, `ferry.star:1:1: nixpkgs: //a.nix: is not a directory: pass the nixpkgs source tree (the directory holding default.nix and nixos/)`},
	}
	// One directory for all cases (they run one after the other), with
	// ferry.star rewritten for each: creating a directory per case would
	// take most of this test's time.
	dir := writeFiles(t, map[string]string{
		"a.nix":           "{ }\n",
		"dir/default.nix": "{ }\n",
		"empty/README":    "no default.nix here\n",
		"lib/x.star":      "m = nix.module(\"./git.nix\")\n",
	})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(tt.src+"\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, err := Load(context.Background(), Options{Dir: dir, Schemas: testSchemas()})
			got := ""
			if err != nil {
				got = err.Error()
				if _, ok := spec.AsDiagnostic(err); !ok {
					if _, ok := err.(spec.Diagnostics); !ok {
						t.Errorf("error is a %T, want diagnostics", err)
					}
				}
			}
			want := strings.ReplaceAll(tt.want, "$DIR", dir)
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("error (-want +got):\n%s", diff)
			}
		})
	}
}

// TestNixModuleInputs pins what nix.module() hashes into
// Config.Inputs.Files: the module and the *.nix files beside it, nothing
// from other directories, each file once however many modules use it.
func TestNixModuleInputs(t *testing.T) {
	files := map[string]string{
		"ferry.star": `load("//hosts/web.star", "web")
machine("a", ssh("a"), modules = [nix.module("//modules/base"), nix.module("./top.nix"), nix.module("./top.nix")])
`,
		"hosts/web.star":           "web = [machine(\"w%d\" % i, ssh(\"w\"), modules = [nix.module(\"../modules/web.module\")]) for i in range(3)]\n",
		"top.nix":                  "{ }\n",
		"modules/web.module":       "{ } # not named .nix, but a module: hashed\n",
		"modules/util.nix":         "{ } # a sibling: hashed\n",
		"modules/data.json":        "{} # not Nix: not hashed\n",
		"modules/base/default.nix": "{ imports = [ ./x.nix ]; }\n",
		"modules/base/x.nix":       "{ } # inside a directory module: hashed\n",
		"modules/base/sub/y.nix":   "{ } # a subdirectory: not hashed\n",
	}
	dir := writeFiles(t, files)
	outside := writeFiles(t, map[string]string{"hardware.nix": "{ }\n"})
	// A sibling leading outside is skipped, not refused: this is how
	// hardware-configuration.nix is often shared.
	if err := os.Symlink(filepath.Join(outside, "hardware.nix"), filepath.Join(dir, "hardware.nix")); err != nil {
		t.Fatal(err)
	}
	// A directory named like a Nix file is not a file to hash.
	if err := os.MkdirAll(filepath.Join(dir, "modules", "dir.nix"), 0o755); err != nil {
		t.Fatal(err)
	}
	cfg, err := Load(context.Background(), Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{}
	for _, f := range []string{"ferry.star", "hosts/web.star", "top.nix", "modules/web.module", "modules/util.nix", "modules/base/default.nix", "modules/base/x.nix"} {
		want[f] = sha(files[f])
	}
	if diff := cmp.Diff(want, cfg.Inputs.Files); diff != "" {
		t.Errorf("input files (-want +got):\n%s", diff)
	}
	if got, want := cfg.Machines[3].Modules[0].Path, filepath.Join(dir, "modules", "base"); got != want {
		t.Errorf("directory module path = %q, want %q", got, want)
	}
	if got, want := cfg.Machines[0].Modules[0].Path, filepath.Join(dir, "modules", "web.module"); got != want {
		t.Errorf("module path from hosts/web.star = %q, want %q", got, want)
	}
}

func TestNixModuleSymlinkCannotEscape(t *testing.T) {
	outside := writeFiles(t, map[string]string{"secret.nix": "{ }\n"})
	dir := writeFiles(t, map[string]string{"ferry.star": "nix.module(\"./link.nix\")\n"})
	if err := os.Symlink(filepath.Join(outside, "secret.nix"), filepath.Join(dir, "link.nix")); err != nil {
		t.Fatal(err)
	}
	_, err := Load(context.Background(), Options{Dir: dir})
	want := "ferry.star:1:1: nix.module: ./link.nix: leads outside the configuration directory through a symbolic link: keep modules inside it"
	if got := errString(err); got != want {
		t.Errorf("error = %q, want %q", got, want)
	}
}

// TestNixpkgsOutside checks that nixpkgs may live outside the
// configuration directory (unlike modules): relative with "..", absolute,
// or through a symbolic link, and is kept as written (not resolved).
func TestNixpkgsOutside(t *testing.T) {
	outside := writeFiles(t, map[string]string{"nixpkgs/default.nix": "{ }\n"})
	tests := []struct {
		name, arg, want string
	}{
		{"absolute", filepath.Join(outside, "nixpkgs"), filepath.Join(outside, "nixpkgs")},
		{"symbolic link", "./link", "$DIR/link"},
		{"from a subdirectory", "../link", "$DIR/link"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeFiles(t, map[string]string{
				"ferry.star":    "load(\"//sub/pkgs.star\", \"x\")\n",
				"sub/pkgs.star": "nixpkgs(\"" + tt.arg + "\")\nx = 1\n",
			})
			if err := os.Symlink(filepath.Join(outside, "nixpkgs"), filepath.Join(dir, "link")); err != nil {
				t.Fatal(err)
			}
			if tt.name != "from a subdirectory" {
				// The same argument from the entry file.
				if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte("nixpkgs(\""+tt.arg+"\")\n"), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			cfg, err := Load(context.Background(), Options{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			if want := strings.ReplaceAll(tt.want, "$DIR", dir); cfg.Nixpkgs != want {
				t.Errorf("nixpkgs = %q, want %q", cfg.Nixpkgs, want)
			}
		})
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
