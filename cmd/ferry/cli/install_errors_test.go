package cli

import (
	"debug/elf"
	"encoding/binary"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
)

// otherArch is an architecture that is not this machine's, as uname -m
// and as an ELF machine.
func otherArch() (string, elf.Machine) {
	if runtime.GOARCH == "arm64" {
		return "x86_64", elf.EM_X86_64
	}
	return "aarch64", elf.EM_AARCH64
}

// elfHeader is the start of a little-endian 64-bit ELF executable for m.
func elfHeader(m elf.Machine) string {
	h := make([]byte, 64)
	copy(h, elf.ELFMAG)
	h[elf.EI_CLASS], h[elf.EI_DATA], h[elf.EI_VERSION] = byte(elf.ELFCLASS64), byte(elf.ELFDATA2LSB), byte(elf.EV_CURRENT)
	binary.LittleEndian.PutUint16(h[16:], uint16(elf.ET_EXEC))
	binary.LittleEndian.PutUint16(h[18:], uint16(m))
	return string(h)
}

// TestInstallPlanErrors plans installs that cannot go ahead, through the
// CLI on a rescue host: a host that does not let root in, an
// installed_host_key that is not an ed25519 key or is missing, no disko
// layout (names disko.devices), a layout
// disk the host lacks (lists the host's disks), less memory than
// min_memory, and a kexec image for another architecture, told by its
// file name or by the ELF files in it. Each fails the plan with the
// config's position, and leaves the disk and state untouched.
func TestInstallPlanErrors(t *testing.T) {
	dir := t.TempDir()
	fleet := startRescueHosts(t, dir, "web")
	web, _ := fleet.Host("web")
	other, otherELF := otherArch()
	write := func(name, content string) {
		t.Helper()
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	noDisko := strings.Replace(installWebNix, `imports = [ "${modulesPath}/disko" ];`, "", 1)
	noDisko = noDisko[:strings.Index(noDisko, "  disko.devices")] + "}\n"
	write("nodisko.nix", noDisko)
	write("kexec-"+other+"-linux.tar.gz", string(kexecTarball(t)))
	write("kexec-elf.tar.gz", string(kexecTarball(t, "kexec/kexec", elfHeader(otherELF))))
	if out, err := exec.Command("ssh-keygen", "-q", "-t", "rsa", "-b", "2048", "-N", "", "-f", filepath.Join(dir, "rsa_key")).CombinedOutput(); err != nil {
		t.Fatalf("ssh-keygen: %v: %s", err, out)
	}

	// A rescue system that does not let root in: its root accepts no key.
	rootLocked := func(t *testing.T) {
		keys, err := os.ReadFile(web.AuthorizedKeysFile())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(web.AuthorizedKeysFile(), nil, 0o600); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			if err := os.WriteFile(web.AuthorizedKeysFile(), keys, 0o600); err != nil {
				t.Error(err)
			}
		})
	}
	for _, c := range []struct {
		name     string
		from, to string
		env      map[string]string
		setup    func(*testing.T)
		want     []string
	}{
		{name: "not reachable as root", setup: rootLocked,
			want: []string{"ferry.star:5:", "machine web: install: cannot read the host as it is now (root@" + web.Address(), "unable to authenticate", "the host must be reachable as root"}},
		{name: "no disko layout", from: "./web.nix", to: "./nodisko.nix",
			want: []string{"ferry.star:5:", "machine web: install:", "no disko layout: set disko.devices"}},
		{name: "a disk the host lacks", env: map[string]string{"FERRY_VAR_web_disk": "/dev/vdz"},
			// (The host sees every disk of this machine: other tests' loop disks too.)
			want: []string{"ferry.star:5:", "names the disk /dev/vdz, which the host does not have; it has ", web.Disk + " (256 MiB)"}},
		{name: "too little memory", from: `min_memory = "64MiB"`, to: `min_memory = "64TiB"`,
			want: []string{"ferry.star:5:", "less than min_memory 64 TiB", "nothing was touched"}},
		{name: "kexec image named for another architecture", from: "./kexec.tar.gz", to: "./kexec-" + other + "-linux.tar.gz",
			want: []string{"ferry.star:5:", "is for " + other + " (from its file name), but the host is " + runtimeArch(t)}},
		{name: "built on the target", from: `min_memory = "64MiB"),`, to: `min_memory = "64MiB"), build = "target",`,
			want: []string{"ferry.star:5:", `build = "target" and build_host cannot build it`}},
		{name: "an installed host key that is not ed25519", from: `min_memory = "64MiB")`, to: `min_memory = "64MiB", installed_host_key = "./rsa_key")`,
			want: []string{"ferry.star:5:", "installed_host_key: " + filepath.Join(dir, "rsa_key") + ": a ssh-rsa key: want an ed25519 one"}},
		{name: "an installed host key file that is missing", from: `min_memory = "64MiB")`, to: `min_memory = "64MiB", installed_host_key = "./nope")`,
			want: []string{"ferry.star:5:", "installed_host_key: open " + filepath.Join(dir, "nope") + ": no such file or directory"}},
		{name: "kexec image with executables of another architecture", from: "./kexec.tar.gz", to: "./kexec-elf.tar.gz",
			want: []string{"is for " + other + " (from the ELF files in it), but the host is " + runtimeArch(t)}},
	} {
		t.Run(c.name, func(t *testing.T) {
			write("ferry.star", strings.Replace(installConfig, c.from, c.to, 1))
			for k, v := range c.env {
				t.Setenv(k, v)
			}
			if c.setup != nil {
				c.setup(t)
			}
			r := mustFerry(t, 1, dir, "", "plan", "--out", "plan.json")
			for _, want := range c.want {
				if !strings.Contains(r.stderr, want) {
					t.Errorf("plan error does not contain %q:\n%s", want, r.stderr)
				}
			}
			if _, err := os.Stat(filepath.Join(dir, "plan.json")); err == nil {
				t.Error("a failed plan wrote plan.json")
			}
		})
	}
	if got := blkidType(web.Disk); got != "" {
		t.Errorf("the disk holds %q after failed plans, want it untouched", got)
	}
	if rec := stateMachine(t, dir, "web"); rec != nil {
		t.Errorf("state records web after failed plans: %v", rec)
	}
	if h, _ := fleet.Host("web"); h.Kind != web.Kind || h.HostKey != web.HostKey {
		t.Errorf("the host is %q after failed plans, want it as it was (%q)", h.Kind, web.Kind)
	}
}

// runtimeArch is this machine's uname -m, which the rescue hosts share.
func runtimeArch(t *testing.T) string {
	t.Helper()
	out, err := os.ReadFile("/proc/sys/kernel/arch")
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
