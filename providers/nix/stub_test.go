package nix

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// evalStub evaluates expr with `eval` bound to the stub's eval-config and
// returns its JSON.
func evalStub(t *testing.T, n Nix, expr string) (string, error) {
	t.Helper()
	full := "let eval = modules: (import " + nixPath(filepath.Join(nixtest.NixpkgsPath(), "nixos", "lib", "eval-config.nix")) +
		" { inherit modules; specialArgs = { team = \"ops\"; }; }).config; in " + expr
	res, err := n.run(context.Background(), nil, "nix-instantiate", "--eval", "--strict", "--json", "--read-write-mode", "-E", full)
	return strings.TrimSpace(string(res.stdout)), err
}

// The stub's module system merges like NixOS where the examples need it.
func TestStubModuleSystem(t *testing.T) {
	n := testNix(t)
	dir := t.TempDir()
	shared := filepath.Join(dir, "shared.nix")
	if err := os.WriteFile(shared, []byte(`{ pkgs, ... }: { environment.systemPackages = [ pkgs.vim ]; }`), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		expr string
		want string
	}{
		{"mkIf false drops a service's user",
			`builtins.attrNames (eval [ { users.users.alice.isNormalUser = true; } ]).users.users`,
			`["alice"]`},
		{"mkIf true keeps it",
			`builtins.attrNames (eval [ { services.forgejo.enable = true; } ]).users.users`,
			`["forgejo"]`},
		{"option defaults",
			`with eval [ ]; [ services.forgejo.port networking.hostName services.nginx.enable ]`,
			`[3000,"nixos",false]`},
		{"priorities",
			`(eval [ { networking.hostName = "a"; } ({ lib, ... }: { networking.hostName = lib.mkForce "forced"; }) ({ lib, ... }: { networking.hostName = lib.mkDefault "default"; }) ]).networking.hostName`,
			`"forced"`},
		{"mkDefault loses to a plain definition",
			`(eval [ ({ lib, ... }: { services.forgejo.port = lib.mkDefault 1; }) { services.forgejo.port = 2; } ]).services.forgejo.port`,
			`2`},
		{"lists concatenate in mkBefore/mkAfter order",
			`map (p: p.name) (eval [ ({ pkgs, lib, ... }: { environment.systemPackages = lib.mkAfter [ pkgs.hello ]; }) ({ pkgs, lib, ... }: { environment.systemPackages = lib.mkBefore [ pkgs.htop ]; }) ]).environment.systemPackages`,
			`["htop-3.2.2","coreutils-9.4","bash-5.2","hello-2.12"]`},
		{"mkMerge and nested mkIf",
			`(eval [ ({ lib, ... }: lib.mkMerge [ { services.nginx.enable = true; } (lib.mkIf false { services.forgejo.enable = true; }) ]) ]).services`,
			`` /* checked below by key */},
		{"a file imported twice counts once",
			`map (p: p.name) (eval [ { imports = [ ` + shared + ` ]; } ` + shared + ` ]).environment.systemPackages`,
			`["coreutils-9.4","bash-5.2","vim-9.0.2116"]`},
		{"declared options with defaults, _module.args and specialArgs",
			`(eval [ ({ lib, ... }: { options.site.title = lib.mkOption { default = "untitled"; }; }) { _module.args.flavour = "vanilla"; } ({ config, flavour, team, ... }: { networking.domain = "${config.site.title}.${flavour}.${team}"; }) ]).networking.domain`,
			`"untitled.vanilla.ops"`},
		{"kernel package set",
			`with eval [ ({ pkgs, ... }: { boot.kernelPackages = pkgs.linuxPackages_latest; }) ]; boot.kernelPackages.kernel.version`,
			`"6.6.8"`},
		{"overrideAttrs bumps a version",
			`with eval [ ({ pkgs, ... }: { services.openssh = { enable = true; package = pkgs.openssh.overrideAttrs (_: { version = "9.7"; }); }; }) ]; map (p: p.name) environment.systemPackages`,
			`["coreutils-9.4","bash-5.2","openssh-9.7"]`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := evalStub(t, n, tt.expr)
			if err != nil {
				t.Fatal(err)
			}
			if tt.want == "" {
				var services map[string]struct{ Enable bool }
				if err := json.Unmarshal([]byte(got), &services); err != nil {
					t.Fatal(err)
				}
				if !services["nginx"].Enable || services["forgejo"].Enable {
					t.Errorf("services: %s", got)
				}
				return
			}
			if got != tt.want {
				t.Errorf("got %s, want %s", got, tt.want)
			}
		})
	}
}

func TestStubModuleErrors(t *testing.T) {
	n := testNix(t)
	tests := []struct{ name, expr, want string }{
		{"conflict",
			`(eval [ { networking.hostName = "a"; } { networking.hostName = "b"; } ]).networking.hostName`,
			"The option `networking.hostName' has conflicting definition values"},
		{"undefined",
			`(eval [ { fileSystems."/".fsType = "ext4"; } ]).fileSystems."/".device`,
			`attribute 'device' missing`},
		{"non-boolean mkIf",
			`(eval [ ({ lib, ... }: { services.nginx.enable = lib.mkIf "yes" true; }) ]).services.nginx.enable`,
			"mkIf called with a non-Boolean condition"},
		{"failEval",
			`(eval [ { ferry.test.failEval = true; } ]).system.build.toplevel.drvPath`,
			"evaluation of nixos failed as requested by ferry.test.failEval"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := evalStub(t, n, tt.expr)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("got %v, want an error with %q", err, tt.want)
			}
		})
	}
}

// buildStubSystem evaluates and builds one machine of the stub.
func buildStubSystem(t *testing.T, n Nix, m Machine) string {
	t.Helper()
	ctx := context.Background()
	ev, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: []Machine{m}})
	if err != nil {
		t.Fatal(err)
	}
	built, err := n.Build(ctx, []string{ev[m.Name].DrvPath}, BuildOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return built[ev[m.Name].DrvPath].OutPath
}

// The system's layout and closure.
func TestStubSystem(t *testing.T) {
	n := testNix(t)
	out := buildStubSystem(t, n, Machine{Name: "web", Modules: []Module{{Inline: `{ pkgs, ... }: {
		environment.systemPackages = [ pkgs.hello ];
		services.nginx.enable = true;
	}`}}})
	for _, f := range []string{"bin/switch-to-configuration", "sw/bin/hello", "sw/bin/ls", "sw/bin/ferry-health", "sw/bin/reboot", "kernel", "initrd", "kernel-modules", "nixos-version", "etc/ferry-config.json"} {
		if _, err := os.Stat(filepath.Join(out, f)); err != nil {
			t.Errorf("system lacks %s: %v", f, err)
		}
	}
	if v, _ := os.ReadFile(filepath.Join(out, "nixos-version")); string(v) != "24.05.ferrystub\n" {
		t.Errorf("nixos-version: %q", v)
	}
	if k, _ := os.ReadFile(filepath.Join(out, "kernel")); !strings.Contains(string(k), "version 6.1.0") {
		t.Errorf("kernel: %q", k)
	}
	closure, err := n.Closure(context.Background(), out)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, p := range closure {
		names = append(names, storePathName(p))
	}
	want := []string{"bash-5.2", "coreutils-9.4", "glibc-2.38", "hello-2.12", "initrd-linux-6.1.0", "kernel-modules", "linux-6.1.0", "nginx-1.24.0", "nixos-system-web-24.05.ferrystub", "openssl-3.0.12", "zlib-1.3"}
	slices.Sort(names)
	if diff := cmp.Diff(want, names); diff != "" {
		t.Errorf("runtime closure (-want +got):\n%s", diff)
	}
}

// switch-to-configuration, run in a private mount namespace with its own
// /run, as on a test host.
func TestStubSwitchToConfiguration(t *testing.T) {
	n := testNix(t)
	requireNamespaces(t)
	_, before := os.Lstat("/run/ferry-test/activations")
	good := buildStubSystem(t, n, Machine{Name: "host"})
	bad := buildStubSystem(t, n, Machine{Name: "host", Modules: []Module{{Inline: "{ ferry.test.failActivation = true; }"}}})
	script := `set -u
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /root
for step in "$@"; do
  system=${step%% *}; action=${step#* }
  if out=$("$system/bin/switch-to-configuration" "$action" 2>&1); then rc=0; else rc=$?; fi
  echo "$action rc=$rc current=$(readlink /run/current-system || echo none) boot=$(readlink /run/ferry-test/boot-system || echo none)"
  echo "$out" | grep -q ferry.test.failActivation && echo "  said failActivation"
done
echo activations:
cat /run/ferry-test/activations
`
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh",
		good+" dry-activate", good+" boot", good+" test", bad+" switch", good+" switch", good+" bogus")
	outBytes, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, outBytes)
	}
	want := strings.Join([]string{
		"dry-activate rc=0 current=none boot=none",
		"boot rc=0 current=none boot=" + good,
		"test rc=0 current=" + good + " boot=" + good,
		"switch rc=1 current=" + good + " boot=" + good,
		"  said failActivation",
		"switch rc=0 current=" + good + " boot=" + good,
		"bogus rc=1 current=" + good + " boot=" + good,
		"activations:",
		"dry-activate " + good,
		"boot " + good,
		"test " + good,
		"switch " + bad,
		"switch " + good,
		"",
	}, "\n")
	if diff := cmp.Diff(want, string(outBytes)); diff != "" {
		t.Errorf("activations (-want +got):\n%s", diff)
	}
	if _, after := os.Lstat("/run/ferry-test/activations"); before != nil && after == nil {
		t.Error("the test wrote this machine's /run; it must stay inside the namespace")
	}
}

// requireNamespaces fails unless the test can run scripts in a private
// mount namespace (with its own /run and /root) as root.
func requireNamespaces(t *testing.T) {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Fatal("this test mounts a private /run and /root: run it as root (CI does)")
	}
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Fatal("unshare not found: apt-get install -y util-linux")
	}
}

// sw/bin/ferry-health and sw/bin/reboot of every stub system, and the
// unhealthy and noReturnAfterReboot knobs.
func TestStubHealthAndReboot(t *testing.T) {
	n := testNix(t)
	requireNamespaces(t)
	good := buildStubSystem(t, n, Machine{Name: "good"})
	sick := buildStubSystem(t, n, Machine{Name: "sick", Modules: []Module{{Inline: "{ ferry.test = { unhealthy = true; noReturnAfterReboot = true; }; }"}}})
	for _, sys := range []string{good, sick} {
		for _, prog := range []string{"ferry-health", "reboot"} {
			fi, err := os.Stat(filepath.Join(sys, "sw", "bin", prog))
			if err != nil || fi.Mode()&0o111 == 0 {
				t.Errorf("%s: sw/bin/%s is not an executable: %v %v", sys, prog, fi.Mode(), err)
			}
		}
	}
	health := func(sys string) (int, string, string) {
		var stdout, stderr strings.Builder
		cmd := exec.Command(filepath.Join(sys, "sw", "bin", "ferry-health"))
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if err != nil && !errors.As(err, &ee) {
			t.Fatal(err)
		}
		return cmd.ProcessState.ExitCode(), stdout.String(), stderr.String()
	}
	if rc, out, errOut := health(good); rc != 0 || out != "" || errOut != "" {
		t.Errorf("healthy: rc=%d stdout=%q stderr=%q", rc, out, errOut)
	}
	if rc, out, errOut := health(sick); rc != 1 || out != "" || errOut != "ferry stub: sick is unhealthy\n" {
		t.Errorf("unhealthy: rc=%d stdout=%q stderr=%q", rc, out, errOut)
	}

	script := `set -u
mount -t tmpfs tmpfs /run
for sys in "$@"; do
  rm -f /run/ferry-test/reboot-request
  if "$sys/sw/bin/reboot" now >/dev/null; then rc=0; else rc=$?; fi
  echo "rc=$rc request=$(cat /run/ferry-test/reboot-request)"
done
ls -A /run/ferry-test
`
	out, err := exec.Command("unshare", "--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh", good, sick).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := "rc=0 request=reboot\nrc=0 request=halt\nreboot-request\n"
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("reboot requests (-want +got):\n%s", diff)
	}
}

// ferry.test.cutSSH: switch and test move /root/.ssh/authorized_keys away,
// a system without the knob moves it back; boot and dry-activate touch
// nothing.
func TestStubCutSSH(t *testing.T) {
	n := testNix(t)
	requireNamespaces(t)
	good := buildStubSystem(t, n, Machine{Name: "host"})
	cut := buildStubSystem(t, n, Machine{Name: "host", Modules: []Module{{Inline: "{ ferry.test.cutSSH = true; }"}}})
	script := `set -u
mount -t tmpfs tmpfs /run
mount -t tmpfs tmpfs /root
mkdir -m 700 /root/.ssh
echo "ssh-ed25519 AAAA test" > /root/.ssh/authorized_keys
for step in "$@"; do
  system=${step%% *}; action=${step#* }
  if out=$("$system/bin/switch-to-configuration" "$action" 2>&1); then rc=0; else rc=$?; fi
  echo "$action rc=$rc keys=$(ls /root/.ssh | tr '\n' ' ')current=$(readlink /run/current-system || echo none)"
  echo "$out" | grep -q ferry.test.cutSSH && echo "  said cutSSH"
done
cat /root/.ssh/authorized_keys
`
	steps := []string{good + " switch", cut + " dry-activate", cut + " boot", cut + " switch", cut + " test", good + " boot", good + " test", cut + " test", good + " switch"}
	args := append([]string{"--mount", "--propagation", "private", "--", "/bin/sh", "-c", script, "sh"}, steps...)
	out, err := exec.Command("unshare", args...).CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	want := strings.Join([]string{
		"switch rc=0 keys=authorized_keys current=" + good,
		"dry-activate rc=0 keys=authorized_keys current=" + good,
		"boot rc=0 keys=authorized_keys current=" + good,
		"switch rc=0 keys=authorized_keys.ferry-cut current=" + cut,
		"  said cutSSH",
		"test rc=0 keys=authorized_keys.ferry-cut current=" + cut,
		"boot rc=0 keys=authorized_keys.ferry-cut current=" + cut,
		"test rc=0 keys=authorized_keys current=" + good,
		"test rc=0 keys=authorized_keys.ferry-cut current=" + cut,
		"  said cutSSH",
		"switch rc=0 keys=authorized_keys current=" + good,
		"ssh-ed25519 AAAA test",
		"",
	}, "\n")
	if diff := cmp.Diff(want, string(out)); diff != "" {
		t.Errorf("authorized_keys (-want +got):\n%s", diff)
	}
	if _, err := os.Stat("/root/.ssh/authorized_keys.ferry-cut"); err == nil {
		t.Error("this machine has /root/.ssh/authorized_keys.ferry-cut: the test must stay inside its namespace")
	}
}
