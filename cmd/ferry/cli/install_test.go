package cli

import (
	"archive/tar"
	"bufio"
	"bytes"
	"compress/gzip"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// installConfig installs NixOS onto the rescue host web: its disko layout
// names the host's loop disk (FERRY_VAR_web_disk), and the kexec image is
// a tarball whose kexec/run runs the test host's kexec-installer stand-in.
const installConfig = `deployment(name = "install")

machine(
    name = "web",
    target = install(ssh(host = var("web_host"), port = int(var("web_port"))), kexec_image = "./kexec.tar.gz", min_memory = "64MiB"),
    modules = [nix.module("./web.nix", args = {"disk": var("web_disk")})],
    keys = [key("api-token", text = "install-s3cret")],
)
`

const installWebNix = `{ modulesPath, disk, ... }: {
  imports = [ "${modulesPath}/disko" ];
  networking.hostName = "web";
  disko.devices.disk.main = { device = disk; type = "disk"; content = { type = "gpt"; partitions = {
    ESP = { size = "64M"; type = "EF00"; priority = 1; content = { type = "filesystem"; format = "vfat"; mountpoint = "/boot"; }; };
    root = { size = "100%"; content = { type = "filesystem"; format = "ext4"; mountpoint = "/"; }; };
  }; }; };
}
`

// kexecTarball is a kexec installer tarball for the test bed: its
// kexec/run asks the test host's fleet for the "kexec" restart, as the
// real one runs kexec.
// Extra files (name, content) are added after kexec/run.
func kexecTarball(t testing.TB, extra ...string) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	files := append([]string{"kexec/", "", "kexec/run", testhosts.KexecRun()}, extra...)
	for i := 0; i < len(files); i += 2 {
		h := &tar.Header{Name: files[i], Mode: 0o755, Size: int64(len(files[i+1])), Typeflag: tar.TypeReg}
		if strings.HasSuffix(h.Name, "/") {
			h.Typeflag = tar.TypeDir
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(files[i+1]))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

// startRescueHosts starts an empty fleet and adds rescue hosts (without
// Nix) with a 256 MiB loop disk each, and writes the install
// configuration into dir.
func startRescueHosts(t *testing.T, dir string, names ...string) *testhosts.Fleet {
	t.Helper()
	return startInstallHosts(t, dir, testhosts.KindRescue, names...)
}

// startInstallHosts is startRescueHosts with hosts of kind.
func startInstallHosts(t *testing.T, dir string, kind testhosts.Kind, names ...string) *testhosts.Fleet {
	t.Helper()
	nixtest.RequireNix(t)
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Empty: true})
	if err != nil {
		t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	t.Cleanup(func() {
		if err := fleet.Stop(); err != nil {
			t.Error(err)
		}
	})
	for i, name := range names {
		// Rescue systems are plain ones: no Nix, a read-only empty /nix.
		if _, err := fleet.Add(ctx, testhosts.HostOptions{Name: name, Addr: "127.0.0." + strconv.Itoa(i+1), Kind: kind, NoNix: kind == testhosts.KindRescue, DiskSize: 256 << 20}); err != nil {
			t.Fatal(err)
		}
	}
	for name, content := range map[string]string{"ferry.star": installConfig, "web.nix": installWebNix, "kexec.tar.gz": string(kexecTarball(t))} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, fleet, dir)
	for _, h := range fleet.Hosts {
		t.Setenv("FERRY_VAR_"+h.Name+"_disk", h.Disk)
	}
	return fleet
}

// stateMachine reads machine.NAME's record from the file state in dir.
func stateMachine(t *testing.T, dir, name string) map[string]any {
	t.Helper()
	r := mustFerry(t, 0, dir, "", "state", "pull")
	var st struct {
		Machines map[string]map[string]any `json:"machines"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &st); err != nil {
		t.Fatalf("state pull: %v\n%s", err, r.stdout)
	}
	return st.Machines["machine."+name]
}

func blkidType(dev string) string {
	out, _ := exec.Command("blkid", "-p", "-o", "value", "-s", "TYPE", dev).Output()
	if s := strings.TrimSpace(string(out)); s != "" {
		return s
	}
	out, _ = exec.Command("blkid", "-p", "-o", "value", "-s", "PTTYPE", dev).Output()
	return strings.TrimSpace(string(out))
}

// TestInstallThroughCLI installs NixOS onto a rescue host with a loop
// disk: the plan names the disk and its size; --auto-approve alone is
// refused; a disk that changed between plan and apply refuses the plan
// and is left as it is; the next plan and its apply partition the disk,
// boot the kexec installer (same host key), install, reboot into the
// installed system held to the key ferry generated (pinned in state, no
// private key there), and the plan after is empty. The plan counts the
// install as one, and the prompt of a plan-less apply names the disk.
// Then --replace installs it again, from the installed system, and
// destroy forgets it, wiping nothing.
func TestInstallThroughCLI(t *testing.T) {
	dir := t.TempDir()
	fleet := startRescueHosts(t, dir, "web")
	web, _ := fleet.Host("web")

	planned := mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	for _, want := range []string{
		"# machine.web will be INSTALLED: wipes " + web.Disk + " (256 MiB; now: no file system)",
		"      phases:  kexec, disko, install, reboot\n",
		"      kexec:   " + filepath.Join(dir, "kexec.tar.gz") + " (sha256 ",
		" 1 machine to install, 0 machines to deploy, 0 unchanged.",
	} {
		if !strings.Contains(planned.stdout, want) {
			t.Errorf("plan does not contain %q:\n%s", want, planned.stdout)
		}
	}

	// The plan keeps the disko script's derivation from the garbage
	// collector until apply builds it, as it keeps the system's.
	links, _ := filepath.Glob(filepath.Join(dir, ".ferry", ".gcroots", "install", "*", "drv*"))
	var rooted []string
	for _, l := range links {
		if to, err := os.Readlink(l); err == nil {
			rooted = append(rooted, to)
		}
	}
	if s := strings.Join(rooted, " "); !strings.Contains(s, "-disko-web.drv") || !strings.Contains(s, "-nixos-system-web-") {
		t.Errorf("the plan's GC roots hold %v, want the system's and the disko script's derivations", rooted)
	}

	refused := mustFerry(t, 1, dir, "", "apply", "--auto-approve")
	if !strings.Contains(refused.stderr, "--auto-approve alone does not approve that") || !strings.Contains(refused.stderr, web.Disk) {
		t.Errorf("apply --auto-approve: %s", refused.stderr)
	}

	// The prompt of a plan-less apply names the disks; "no" touches nothing.
	asked := mustFerry(t, 1, dir, "no\n", "apply")
	if want := "This INSTALLS NixOS and wipes: machine.web (wipes " + web.Disk + " (256 MiB; now: no file system))."; !strings.Contains(asked.stdout, want) {
		t.Errorf("the prompt of ferry apply does not contain %q:\n%s", want, asked.stdout)
	}
	if got := blkidType(web.Disk); got != "" {
		t.Errorf("disk after answering no: %q, want it untouched", got)
	}

	// The disk moves between plan and apply: refused, untouched.
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", "-L", "moved", web.Disk).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v: %s", err, out)
	}
	moved := mustFerry(t, 1, dir, "", "apply", "plan.json")
	if !strings.Contains(moved.stdout+moved.stderr, "refused: the host changed since the plan (disk "+web.Disk+" was") {
		t.Errorf("apply after the disk moved:\n%s\n%s", moved.stdout, moved.stderr)
	}
	if got := blkidType(web.Disk); got != "ext4" {
		t.Errorf("disk after a refused apply: %q, want the ext4 written by hand", got)
	}

	planned = mustFerry(t, 0, dir, "", "plan", "--out", filepath.Join(dir, "plan2.json"))
	if want := "wipes " + web.Disk + " (256 MiB; now: ext4 moved)"; !strings.Contains(planned.stdout, want) {
		t.Errorf("second plan does not contain %q:\n%s", want, planned.stdout)
	}
	applied := mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "plan2.json"))
	for _, want := range []string{"web> install: kexec done", "web> install: disko done", "web> install: install done", "web> install: reboot done"} {
		if !strings.Contains(applied.stdout, want) {
			t.Errorf("apply does not contain %q:\n%s", want, applied.stdout)
		}
	}
	booted, _ := fleet.Host("web")
	if booted.Kind != testhosts.KindDisk {
		t.Fatalf("after apply the host is %q, want booted from its disk", booted.Kind)
	}
	rec := stateMachine(t, dir, "web")
	if rec["host_key"] != booted.HostKey || booted.HostKey == web.HostKey {
		t.Errorf("state pins %v; the installed host presents %s (the rescue system %s)", rec["host_key"], booted.HostKey, web.HostKey)
	}
	if in, _ := rec["install"].(map[string]any); in == nil || in["verified"] != true {
		t.Errorf("state's install record: %v", rec["install"])
	}
	if info := mustFerry(t, 0, dir, "", "info").stdout; !strings.Contains(info, "    install:   verified\n") || !strings.Contains(info, "status:    up to date") {
		t.Errorf("info after the install:\n%s", info)
	}
	if b, _ := json.Marshal(rec); bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Errorf("state holds a private key: %s", b)
	}
	cur, _ := booted.CurrentSystem()
	if cur == "" || !strings.Contains(planned.stdout, cur) {
		t.Errorf("the host runs %q, not the planned system", cur)
	}
	// The machine's keys arrived after the first boot, so the plan after
	// the install is empty.
	if b, err := os.ReadFile(filepath.Join(booted.Root, "run", "keys", "api-token")); err != nil || string(b) != "install-s3cret" {
		t.Errorf("key on the installed host: %q, %v", b, err)
	}
	if !strings.Contains(applied.stdout, "uploaded 1 key: api-token") {
		t.Errorf("apply does not upload the key:\n%s", applied.stdout)
	}
	again := mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")
	if strings.Contains(again.stdout, "INSTALLED") {
		t.Errorf("plan after the install:\n%s", again.stdout)
	}

	// From now on it is an ordinary machine: a change to its system is
	// deployed over SSH with the pinned key, not installed.
	webNix := strings.Replace(installWebNix, `networking.hostName = "web";`, `networking.hostName = "web"; networking.domain = "example.org";`, 1)
	if err := os.WriteFile(filepath.Join(dir, "web.nix"), []byte(webNix), 0o644); err != nil {
		t.Fatal(err)
	}
	changed := mustFerry(t, 0, dir, "", "plan", "--out", filepath.Join(dir, "change.json"))
	if strings.Contains(changed.stdout, "INSTALLED") || !strings.Contains(changed.stdout, "# machine.web will be deployed") {
		t.Errorf("plan of a change after the install:\n%s", changed.stdout)
	}
	mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "change.json"))
	if cur, _ := booted.CurrentSystem(); cur == "" || !strings.Contains(changed.stdout, cur) {
		t.Errorf("after the change the host runs %q, not the planned system", cur)
	}
	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")

	// --replace installs it again and shows the wipe again, of the disk as
	// it is now; its apply kexecs the installed system into the installer
	// (which presents the installed system's key), wipes, installs, and
	// reboots into a system with a key ferry generated anew.
	replaced := mustFerry(t, 0, dir, "", "plan", "--replace", "machine.web", "--out", filepath.Join(dir, "replace.json"))
	for _, want := range []string{
		"# machine.web will be INSTALLED: wipes " + web.Disk + " (256 MiB; now: ",
		"      phases:  kexec, disko, install, reboot\n",
		"requested with --replace: installed again",
		" 1 machine to install, 0 machines to deploy, 0 unchanged.",
	} {
		if !strings.Contains(replaced.stdout, want) {
			t.Errorf("plan --replace machine.web does not contain %q:\n%s", want, replaced.stdout)
		}
	}
	if _, line, _ := strings.Cut(replaced.stdout, "will be INSTALLED: wipes"); !strings.Contains(strings.SplitN(line, "\n", 2)[0], "ext4") {
		t.Errorf("plan --replace does not show the installed ext4 root among what it wipes:\n%s", replaced.stdout)
	}
	reapplied := mustFerry(t, 0, dir, "", "apply", filepath.Join(dir, "replace.json"))
	for _, want := range []string{"web> install: kexec done", "web> install: disko done", "web> install: reboot done"} {
		if !strings.Contains(reapplied.stdout, want) {
			t.Errorf("apply --replace does not contain %q:\n%s", want, reapplied.stdout)
		}
	}
	again2, _ := fleet.Host("web")
	if again2.Kind != testhosts.KindDisk || again2.HostKey == booted.HostKey {
		t.Errorf("after the reinstall the host is %q with key %s, want booted from its disk with a key other than the first install's %s", again2.Kind, again2.HostKey, booted.HostKey)
	}
	if rec := stateMachine(t, dir, "web"); rec["host_key"] != again2.HostKey {
		t.Errorf("after the reinstall state pins %v, the host presents %s", rec["host_key"], again2.HostKey)
	}
	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")

	// destroy forgets the installed machine and wipes nothing.
	destroyed := mustFerry(t, 0, dir, "", "destroy", "--auto-approve")
	if !strings.Contains(destroyed.stdout, "ferry forgets the machine") {
		t.Errorf("destroy:\n%s", destroyed.stdout)
	}
	if rec := stateMachine(t, dir, "web"); rec != nil {
		t.Errorf("state records web after destroy: %v", rec)
	}
	if h, _ := fleet.Host("web"); h.Kind != testhosts.KindDisk || !fleet.Up("web") || blkidType(web.Disk) != "gpt" {
		t.Errorf("after destroy the host is %q (up %v) and its disk holds %q, want the installed system running from its GPT disk", h.Kind, fleet.Up("web"), blkidType(web.Disk))
	}
}

// installKillEnv makes the child of killInstallAt run the apply in the
// folder it names.
const installKillEnv = "FERRY_TEST_INSTALL_KILL_DIR"

// installChild is the child side of killInstallAt: with installKillEnv
// set it runs a plan-less apply that installs, and exits.
func installChild() {
	if dir := os.Getenv(installKillEnv); dir != "" {
		code := Main(context.Background(), []string{"-C", dir, "apply", "--auto-approve", "--allow-install"},
			IO{Stdin: strings.NewReader(""), Stdout: os.Stdout, Stderr: os.Stderr, LookupEnv: os.LookupEnv})
		os.Exit(code)
	}
}

// killInstallAt runs an apply that installs in dir in a child process
// (the test named test, re-run) and kills it (SIGKILL) once it printed a
// line containing at; it returns what the child printed.
func killInstallAt(t *testing.T, test, dir, at string) string {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^"+test+"$", "-test.count=1")
	cmd.Env = append(os.Environ(), installKillEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(out)
	var said []string
	for sc.Scan() {
		said = append(said, sc.Text())
		if strings.Contains(sc.Text(), at) {
			break
		}
	}
	cmd.Process.Kill()
	_ = cmd.Wait()
	all := strings.Join(said, "\n")
	if !strings.Contains(all, at) {
		t.Fatalf("the child never said %q; it said:\n%s", at, all)
	}
	return all
}

// TestInstallResumesAfterKill kills (SIGKILL) an apply that installs once
// it recorded the disko phase: the next plan resumes the install after
// kexec and disko, saying what it redoes and wiping nothing, and its apply
// finishes the install.
func TestInstallResumesAfterKill(t *testing.T) {
	installChild()
	dir := t.TempDir()
	fleet := startRescueHosts(t, dir, "web")
	killInstallAt(t, "TestInstallResumesAfterKill", dir, "web> install: disko done")
	web, _ := fleet.Host("web")
	if got := blkidType(web.Disk); got != "gpt" {
		t.Fatalf("after disko the disk holds %q, want a GPT", got)
	}
	if info := mustFerry(t, 0, dir, "", "info").stdout; !strings.Contains(info, "    install:   interrupted after kexec, disko (run `ferry plan` to resume)\n") {
		t.Errorf("info after the kill:\n%s", info)
	}
	planned := mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	for _, want := range []string{
		"resumes the install that an earlier apply left after kexec, disko: redoes install, reboot",
		"      phases:  install, reboot\n",
	} {
		if !strings.Contains(planned.stdout, want) {
			t.Errorf("plan after the kill does not contain %q:\n%s", want, planned.stdout)
		}
	}
	if strings.Contains(planned.stdout, "wipes") {
		t.Errorf("the resumed install wipes again:\n%s", planned.stdout)
	}
	applied := mustFerry(t, 0, dir, "", "apply", "plan.json")
	if strings.Contains(applied.stdout, "disko done") || !strings.Contains(applied.stdout, "web> install: reboot done") {
		t.Errorf("resumed apply:\n%s", applied.stdout)
	}
	if booted, _ := fleet.Host("web"); booted.Kind != testhosts.KindDisk {
		t.Errorf("after the resumed apply the host is %q, want booted from its disk", booted.Kind)
	}
	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")
}

// TestInstallResumesAfterKillDuringReboot kills an apply that installs
// once the reboot into the installed system started: the host comes back
// with the host key ferry generated, which state recorded before the
// reboot, so the next plan reads it with that key (no host-key mismatch),
// says the reboot is done, wipes and installs nothing, and its apply
// verifies the running system and records the install as verified. From
// a host that ran the installer already (no kexec phase), the resume does
// not kexec the installed system either.
func TestInstallResumesAfterKillDuringReboot(t *testing.T) {
	installChild()
	for _, c := range []struct {
		kind testhosts.Kind
		done string
	}{
		{testhosts.KindRescue, "kexec, disko, install"},
		{testhosts.KindInstaller, "disko, install"},
	} {
		t.Run(string(c.kind), func(t *testing.T) { testResumeAfterKillDuringReboot(t, c.kind, c.done) })
	}
}

func testResumeAfterKillDuringReboot(t *testing.T, kind testhosts.Kind, done string) {
	dir := t.TempDir()
	fleet := startInstallHosts(t, dir, kind, "web")
	rescue, _ := fleet.Host("web")
	// The reboot waits until the child is dead, so that it cannot see the
	// new boot and record it: then the fleet serves the reboot the child
	// asked for (detached from its session, remote.RestartScript).
	release := fleet.HoldReboots("web")
	killInstallAt(t, "TestInstallResumesAfterKillDuringReboot", dir, "web> install: reboot started")
	release()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		if h, _ := fleet.Host("web"); h.Kind == testhosts.KindDisk && fleet.Up("web") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the host did not boot from its disk after the reboot the killed apply started")
		}
		time.Sleep(50 * time.Millisecond)
	}
	booted, _ := fleet.Host("web")
	if in, _ := stateMachine(t, dir, "web")["install"].(map[string]any); in == nil || in["verified"] == true {
		t.Fatalf("state's install record after the kill: %v", in)
	}
	planned := mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	for _, want := range []string{
		"resumes the install that an earlier apply left after " + done + ": the host has rebooted into the installed system",
		"      phases:  none left: apply verifies the running system and records the install\n",
		"(the disks were wiped by the earlier apply)",
	} {
		if !strings.Contains(planned.stdout, want) {
			t.Errorf("plan after the kill does not contain %q:\n%s", want, planned.stdout)
		}
	}
	if fp, _ := remote.Fingerprint(booted.HostKey); !strings.Contains(planned.stdout, "host key: "+fp+" (the installed system's") {
		t.Errorf("plan after the kill does not pin the installed system's key %s:\n%s", fp, planned.stdout)
	}
	applied := mustFerry(t, 0, dir, "", "apply", "plan.json")
	for _, phase := range []string{"kexec", "disko", "install", "reboot"} {
		if strings.Contains(applied.stdout, "web> install: "+phase+" done") {
			t.Errorf("the resumed apply ran the %s phase again:\n%s", phase, applied.stdout)
		}
	}
	if h, _ := fleet.Host("web"); h.HostKey != booted.HostKey || fleet.Reboots("web") != 1 {
		t.Errorf("after the resumed apply the host presents %s after %d reboots, want %s after 1", h.HostKey, fleet.Reboots("web"), booted.HostKey)
	}
	rec := stateMachine(t, dir, "web")
	if in, _ := rec["install"].(map[string]any); in == nil || in["verified"] != true || rec["host_key"] != booted.HostKey || booted.HostKey == rescue.HostKey {
		t.Errorf("state after the resumed apply: host key %v (installed %s, rescue %s), install %v", rec["host_key"], booted.HostKey, rescue.HostKey, rec["install"])
	}
	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")
}

// TestInstallRefusesInstallerWithAnotherKey installs with a kexec image
// whose installer does not keep the host's key (its kexec/run gives the
// host a new one first, as an image that generates fresh keys would): the
// apply refuses the installer naming both fingerprints, wipes nothing, and
// state records no completed phase.
func TestInstallRefusesInstallerWithAnotherKey(t *testing.T) {
	dir := t.TempDir()
	fleet := startRescueHosts(t, dir, "web")
	web, _ := fleet.Host("web")
	key := filepath.Join(web.Root, "sshd", "ssh_host_ed25519_key")
	run := "#!/bin/sh\nset -eu\nrm -f " + key + ".new " + key + ".new.pub\nssh-keygen -q -t ed25519 -N '' -f " + key + ".new\nmv -f " + key + ".new " + key + "\n" + testhosts.KexecRun()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	tw.WriteHeader(&tar.Header{Name: "kexec/", Mode: 0o755, Typeflag: tar.TypeDir})
	tw.WriteHeader(&tar.Header{Name: "kexec/run", Mode: 0o755, Size: int64(len(run)), Typeflag: tar.TypeReg})
	tw.Write([]byte(run))
	tw.Close()
	gz.Close()
	if err := os.WriteFile(filepath.Join(dir, "kexec.tar.gz"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	r := mustFerry(t, 1, dir, "", "apply", "plan.json")
	out := r.stdout + r.stderr
	pub, err := os.ReadFile(key + ".new.pub")
	if err != nil {
		t.Fatal(err)
	}
	oldFP, _ := remote.Fingerprint(web.HostKey)
	newFP, _ := remote.Fingerprint(string(pub))
	for _, want := range []string{"machine.web", "install: kexec: wait for the kexec installer: host key mismatch", "pinned " + oldFP, "presented " + newFP} {
		if !strings.Contains(out, want) {
			t.Errorf("apply does not say %q:\n%s", want, out)
		}
	}
	if got := blkidType(web.Disk); got != "" {
		t.Errorf("the disk holds %q after the refused installer, want it untouched", got)
	}
	if in, _ := stateMachine(t, dir, "web")["install"].(map[string]any); in != nil && in["done"] != nil {
		t.Errorf("state records completed phases after the refused installer: %v", in)
	}
}

// TestInstallWithGivenHostKey installs with installed_host_key: the plan
// shows the file's key (and holds no private key), an apply after the
// file changed is refused touching nothing, and the installed system
// comes up with the file's key, pinned in state.
func TestInstallWithGivenHostKey(t *testing.T) {
	dir := t.TempDir()
	fleet := startRescueHosts(t, dir, "web")
	web, _ := fleet.Host("web")
	keyFile := filepath.Join(dir, "web_host_key")
	keygen := func() string {
		t.Helper()
		os.Remove(keyFile)
		os.Remove(keyFile + ".pub")
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "", "-f", keyFile).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v: %s", err, out)
		}
		pub, err := os.ReadFile(keyFile + ".pub")
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(pub))
	}
	pub := keygen()
	conf := strings.Replace(installConfig, `min_memory = "64MiB")`, `min_memory = "64MiB", installed_host_key = "./web_host_key")`, 1)
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(conf), 0o644); err != nil {
		t.Fatal(err)
	}
	fp, _ := remote.Fingerprint(pub)
	planned := mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	if want := "the installed system gets " + fp + " from ./web_host_key (installed_host_key), pinned"; !strings.Contains(planned.stdout, want) {
		t.Errorf("plan does not contain %q:\n%s", want, planned.stdout)
	}
	priv, _ := os.ReadFile(keyFile)
	body := strings.Split(strings.TrimSpace(string(priv)), "\n")[1]
	if b, _ := os.ReadFile(filepath.Join(dir, "plan.json")); bytes.Contains(b, []byte(body)) || bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Error("the plan file holds the private host key")
	}

	// The file changes after the review: refused, nothing touched.
	keygen()
	refused := mustFerry(t, 1, dir, "", "apply", "plan.json")
	if want := "refused: installed_host_key ./web_host_key holds "; !strings.Contains(refused.stdout+refused.stderr, want) || !strings.Contains(refused.stdout+refused.stderr, "but the plan pinned "+fp) {
		t.Errorf("apply after the key file changed:\n%s\n%s", refused.stdout, refused.stderr)
	}
	if h, _ := fleet.Host("web"); h.Kind != testhosts.KindRescue || blkidType(web.Disk) != "" {
		t.Errorf("after the refused apply the host is %q with a disk holding %q, want it untouched", h.Kind, blkidType(web.Disk))
	}

	pub = keygen()
	mustFerry(t, 0, dir, "", "plan", "--out", "plan.json")
	mustFerry(t, 0, dir, "", "apply", "plan.json")
	booted, _ := fleet.Host("web")
	if booted.Kind != testhosts.KindDisk || !remote.SameHostKey(booted.HostKey, pub) {
		t.Errorf("the installed host is %q presenting %s, want booted from its disk with the file's key %s", booted.Kind, booted.HostKey, pub)
	}
	rec := stateMachine(t, dir, "web")
	if !remote.SameHostKey(fmt.Sprint(rec["host_key"]), pub) {
		t.Errorf("state pins %v, want the file's key %s", rec["host_key"], pub)
	}
	if b, _ := json.Marshal(rec); bytes.Contains(b, []byte("PRIVATE KEY")) {
		t.Errorf("state holds a private key: %s", b)
	}
	mustFerry(t, 0, dir, "", "plan", "--detailed-exitcode")
}
