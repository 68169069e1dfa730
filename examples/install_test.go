package examples

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/nixferry/ferry/cmd/ferry/cli"
	"github.com/nixferry/ferry/providers/nix/binarycache/cachetest"
	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote/testhosts"
)

// installBed is examples/install-any-host's test bed: its two hosts as
// rescue systems with a 1 GiB loop disk each, a fleet cache in a folder
// (file://, read by the hosts over HTTP) with a generated key pair, and a
// kexec tarball whose kexec/run asks the test host for the "kexec"
// restart (this kernel runs no kexec).
type installBed struct {
	fleet *testhosts.Fleet
	cache *cachetest.Server
	vars  map[string]string // the example's vars
}

func newInstallBed(t *testing.T) *installBed {
	t.Helper()
	nixtest.RequireNix(t)
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Empty: true})
	if err != nil {
		t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	t.Cleanup(func() { // detaches the loop disks
		if err := fleet.Stop(); err != nil {
			t.Error(err)
		}
	})
	b := &installBed{fleet: fleet, vars: map[string]string{
		"disko_module":   `"${modulesPath}/disko"`, // the stub nixpkgs' disko
		"ssh_public_key": strings.TrimSpace(fleet.ClientPublicKey),
	}}
	for i, name := range []string{"web1", "web2"} {
		// web2 is a plain rescue system: no Nix at all.
		h, err := fleet.Add(ctx, testhosts.HostOptions{Name: name, Addr: "127.0.0." + strconv.Itoa(i+1), Kind: testhosts.KindRescue, NoNix: name == "web2", DiskSize: 1 << 30})
		if err != nil {
			t.Fatal(err)
		}
		b.vars[name+"_host"], b.vars[name+"_port"], b.vars[name+"_disk"] = h.Addr, strconv.Itoa(h.Port), h.Disk
	}
	dir := t.TempDir()
	keys := filepath.Join(dir, "keys")
	kexec := filepath.Join(dir, "kexec")
	if err := os.MkdirAll(filepath.Join(kexec, "kexec"), 0o755); err != nil {
		t.Fatal(err)
	}
	run := "#!/bin/sh\n# test bed: the real kexec/run loads the installer's kernel and kexecs\nexec kexec-installer\n"
	if err := os.WriteFile(filepath.Join(kexec, "kexec", "run"), []byte(run), 0o755); err != nil {
		t.Fatal(err)
	}
	b.vars["kexec_image"] = filepath.Join(dir, "kexec.tar.gz")
	for _, cmd := range [][]string{
		{"tar", "-C", kexec, "-czf", b.vars["kexec_image"], "kexec"},
		{"mkdir", "-p", keys, filepath.Join(dir, "cache")},
		{"nix-store", "--generate-binary-cache-key", "fleet-1", filepath.Join(keys, "sk"), filepath.Join(keys, "pk")},
	} {
		if out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput(); err != nil {
			t.Fatalf("%s: %v: %s", strings.Join(cmd, " "), err, out)
		}
	}
	sk, _ := os.ReadFile(filepath.Join(keys, "sk"))
	pk, _ := os.ReadFile(filepath.Join(keys, "pk"))
	b.cache = cachetest.NewFolder(t, filepath.Join(dir, "cache"))
	b.vars["cache_url"], b.vars["cache_substituter"] = b.cache.BucketURL, b.cache.URL
	b.vars["cache_public_key"], b.vars["cache_secret_key"] = strings.TrimSpace(string(pk)), strings.TrimSpace(string(sk))
	return b
}

// TestInstallAnyHost installs examples/install-any-host onto its two
// rescue hosts through the CLI: the plan names each host's loop disk as
// wiped, apply with the plan file partitions, installs and reboots both
// into the planned system from their disks, and the plan after is empty.
func TestInstallAnyHost(t *testing.T) {
	bed := newInstallBed(t)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("install-any-host")); err != nil {
		t.Fatal(err)
	}
	for k, v := range map[string]string{
		"NIX_PATH":      "nixpkgs=" + nixtest.NixpkgsPath(),
		"NIX_CONFIG":    "substituters =\nsandbox = false",
		"FERRY_SSH_KEY": bed.fleet.ClientKeyFile,
		"SSH_AUTH_SOCK": "",
		"NO_COLOR":      "1",
	} {
		t.Setenv(k, v)
	}
	for k, v := range bed.vars {
		t.Setenv("FERRY_VAR_"+k, v)
	}
	ferry := func(args ...string) string {
		t.Helper()
		var out, errOut bytes.Buffer
		stdio := cli.IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &errOut, LookupEnv: os.LookupEnv}
		if code := cli.MainWith(context.Background(), append([]string{"-C", dir}, args...), stdio, cli.Options{}); code != 0 {
			t.Fatalf("ferry %s: exit status %d\nstdout:\n%s\nstderr:\n%s", strings.Join(args, " "), code, out.String(), errOut.String())
		}
		return out.String()
	}
	planPath := filepath.Join(dir, "plan.json")
	planned := ferry("plan", "--out", planPath)
	for _, h := range bed.fleet.Hosts {
		if want := "# machine." + h.Name + " will be INSTALLED: wipes " + h.Disk + " (1 GiB; now: no file system)"; !strings.Contains(planned, want) {
			t.Errorf("plan does not contain %q:\n%s", want, planned)
		}
	}
	applied := ferry("apply", planPath)
	for _, name := range []string{"web1", "web2"} {
		if !strings.Contains(applied, name+"> install: reboot done") {
			t.Errorf("%s was not installed:\n%s", name, applied)
		}
	}
	for _, name := range []string{"web1", "web2"} {
		h, _ := bed.fleet.Host(name)
		if h.Kind != testhosts.KindDisk {
			t.Errorf("%s runs %q after apply, want its disk", name, h.Kind)
		}
		cur, _ := h.CurrentSystem()
		if cur == "" || !strings.Contains(planned, cur) {
			t.Errorf("%s runs %q, not the planned system", name, cur)
		}
	}
	// The installers fetched the closures from the fleet cache into /mnt
	// (the machines' transfer), and none fell back to push.
	if n := bed.cache.Count("GET", ".nar.zst"); n < 2 {
		t.Errorf("the installers fetched %d NARs from the fleet cache, want the closures of both:\n%s", n, applied)
	}
	if strings.Contains(applied, "fell back to push") {
		t.Errorf("an installer fell back to push:\n%s", applied)
	}
	if again := ferry("plan"); strings.Contains(again, "INSTALLED") || strings.Contains(again, "will be deployed") {
		t.Errorf("plan after the install:\n%s", again)
	}
}
