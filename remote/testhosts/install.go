package testhosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
)

// Hosts to install NixOS on (TESTING.md, "Installing and caches"): a host
// added with a Kind other than KindNixOS is a rescue system or a booted
// NixOS installer, with an empty tmpfs as /nix (the installer's store in
// RAM; read-only on a rescue system, whose store nothing may write) and an
// empty /etc/nix, and with HostOptions.NoNix a rescue system without Nix
// binaries; with HostOptions.DiskSize it has a
// disk, a loop device of its own attached at Add (losetup -f --show -P)
// and detached when the host is removed or the fleet stops. "kexec" is a
// restart of a rescue, installer or disk-booted host into KindInstaller:
// the same host key (a disk-booted host's is copied to the host's sshd
// folder) and disk, a new boot ID, a fresh /run and an empty store. A reboot of a rescue or
// installer host whose disk holds a boot entry (loader/loader.conf on a
// FAT partition, as systemd-boot reads it) boots the disk: KindDisk, with
// the entry's root= partition mounted at B/NAME/sysroot inside the host's
// namespace and its nix, root and etc/nix bound over /nix, /root and
// /etc/nix; sshd uses the installed system's etc/ssh/ssh_host_ed25519_key
// (Host.HostKey becomes its public key) and root's authorized_keys stay
// the host's own file (standing in for the configuration's
// users.users.root.openssh.authorizedKeys). A reboot of an installer
// without a boot entry comes back as the rescue system.
//
// Rescue and installer sessions have B/NAME/bin first on their PATH, with
// stand-ins for the tools the real systems have and this machine must not
// run: reboot (asks the fleet to reboot the host, as the stub systems'
// reboot does), kexec-installer (asks for the "kexec" restart: what
// running the kexec tarball's kexec/run does) and nixos-install (see
// nixosInstallScript).

// Kind is what a host runs.
type Kind string

// The kinds of host.
const (
	// KindNixOS is a NixOS-like host with its own persistent /nix (the
	// default).
	KindNixOS Kind = ""
	// KindRescue is a rescue system or a fresh image of another
	// distribution: the machine's /etc/os-release, Nix binaries on PATH,
	// an empty store in RAM.
	KindRescue Kind = "rescue"
	// KindInstaller is the NixOS kexec installer: as KindRescue, with an
	// /etc/os-release saying ID=nixos and VARIANT_ID=installer.
	KindInstaller Kind = "installer"
	// KindDisk is the system installed on the host's disk, booted.
	KindDisk Kind = "disk"
)

func (k Kind) valid() bool {
	switch k {
	case KindNixOS, KindRescue, KindInstaller, KindDisk:
		return true
	}
	return false
}

// installerOSRelease is the installer's /etc/os-release, as the NixOS
// kexec installer of nixos-images has it.
const installerOSRelease = `NAME=NixOS
ID=nixos
VERSION_ID="24.05"
PRETTY_NAME="NixOS 24.05 (installer)"
VARIANT_ID=installer
`

// mounts are the shell commands that give a host of kind k its /nix,
// /run, /root and /etc/nix inside its namespace.
func (k Kind) mounts(h Host) []string {
	q := remote.Quote
	bind := func(from, to string) string { return "mount --bind " + q(from) + " " + to }
	run := bind(filepath.Join(h.Root, "run"), "/run")
	switch k {
	case KindRescue, KindInstaller:
		// The installer's store is in RAM; a rescue system's /nix is
		// empty and read-only: nothing may be written there (what the
		// host is installed with goes to the installer's store or /mnt).
		nix := "mount -t tmpfs -o size=1g,mode=755 none /nix"
		if k == KindRescue {
			nix = "mount -t tmpfs -o ro,size=64k,mode=755 none /nix"
		}
		out := []string{
			nix,
			run,
			bind(filepath.Join(h.Root, "root"), "/root"),
			"mount -t tmpfs -o size=1m,mode=755 none /etc/nix",
		}
		if k == KindInstaller {
			out = append(out, bind(filepath.Join(h.Root, "os-release"), "/etc/os-release"))
		}
		if k == KindRescue && h.NoNix {
			nonix := filepath.Join(h.Root, "nonix")
			out = append(out, "mount -t overlay overlay -o lowerdir=/usr/bin,upperdir="+q(filepath.Join(nonix, "upper"))+",workdir="+q(filepath.Join(nonix, "work"))+" /usr/bin")
		}
		return out
	case KindDisk:
		sysroot := filepath.Join(h.Root, "sysroot")
		return []string{
			"mkdir -p " + q(sysroot),
			"mount \"$(cat " + q(filepath.Join(h.Root, "boot-root")) + ")\" " + q(sysroot),
			// NixOS's activation makes /etc/nix and /root at boot.
			"mkdir -p " + q(filepath.Join(sysroot, "etc", "nix")) + " " + q(filepath.Join(sysroot, "root")),
			bind(filepath.Join(sysroot, "nix"), "/nix"),
			run,
			bind(filepath.Join(sysroot, "root"), "/root"),
			bind(filepath.Join(sysroot, "etc", "nix"), "/etc/nix"),
		}
	}
	return []string{
		bind(filepath.Join(h.Root, "nix"), "/nix"),
		run,
		bind(filepath.Join(h.Root, "root"), "/root"),
		bind(filepath.Join(h.Root, "etc-nix"), "/etc/nix"),
	}
}

// env is the session environment of a host of kind k: rescue and
// installer hosts find their stand-ins first on PATH.
func (k Kind) env(h Host) []string {
	if k == KindRescue || k == KindInstaller {
		return []string{"PATH=" + filepath.Join(h.Root, "bin") + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	}
	return nil
}

// hostKeyFile is the host key sshd uses, as seen inside the host.
func (h Host) hostKeyFile() string {
	if h.Kind == KindDisk {
		return filepath.Join(h.Root, "sysroot", "etc", "ssh", "ssh_host_ed25519_key")
	}
	return filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key")
}

// DiskImage is the file behind the host's loop device.
func (h Host) DiskImage() string { return filepath.Join(h.Root, "disk.img") }

// prepareInstallKind writes what a host of a rescue or installer kind
// needs besides the common folders: its stand-in tools and the
// installer's os-release.
func prepareInstallKind(h Host) error {
	bin := filepath.Join(h.Root, "bin")
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	files := map[string]string{
		"bin/reboot":          requestScript("reboot"),
		"bin/kexec-installer": requestScript("kexec"),
		"bin/nixos-install":   nixosInstallScript,
		"os-release":          installerOSRelease,
	}
	if h.NoNix {
		// A whiteout (a 0/0 character device) per Nix binary hides it in
		// the overlay the rescue system mounts on /usr/bin.
		nonix := filepath.Join(h.Root, "nonix")
		for _, d := range []string{"upper", "work"} {
			if err := os.MkdirAll(filepath.Join(nonix, d), 0o755); err != nil {
				return err
			}
		}
		bins, _ := filepath.Glob("/usr/bin/nix*")
		for _, b := range bins {
			if err := syscall.Mknod(filepath.Join(nonix, "upper", filepath.Base(b)), syscall.S_IFCHR, 0); err != nil && !errors.Is(err, os.ErrExist) {
				return fmt.Errorf("hide %s: %w", b, err)
			}
		}
	}
	for name, content := range files {
		mode := os.FileMode(0o755)
		if name == "os-release" {
			mode = 0o644
		}
		if err := os.WriteFile(filepath.Join(h.Root, name), []byte(content), mode); err != nil {
			return err
		}
	}
	return nil
}

// KexecRun is a kexec/run for the kexec installer tarballs of tests: where
// the real one loads the installer's kernel and kexecs, it asks the fleet
// for the "kexec" restart, on a host of any kind (a disk-booted one has no
// kexec-installer stand-in on its PATH).
func KexecRun() string { return requestScript("kexec") }

// requestScript asks the fleet for a reboot or a kexec restart, through
// the reboot protocol (reboot.go).
func requestScript(request string) string {
	return `#!/bin/sh
# Test-bed stand-in: asks the test host's fleet for a "` + request + `" (see
# remote/testhosts/install.go). Arguments are ignored.
set -eu
mkdir -p /run/ferry-test
printf '%s' ` + request + ` > /run/ferry-test/reboot-request.ferry-tmp
mv -f /run/ferry-test/reboot-request.ferry-tmp /run/ferry-test/reboot-request
echo "ferry test host: ` + request + ` requested"
`
}

// nixosInstallScript stands in for NixOS's nixos-install --system PATH
// (nixos/modules/installer/tools/nixos-install.sh), doing to the stub
// system what the real one does to a NixOS system: it needs the system's
// closure already in ROOT's store (the real one copies it there), sets
// ROOT's system profile to it (a new generation), makes ROOT/etc and
// ROOT/tmp, and installs the boot loader as systemd-boot does: an entry
// loader/entries/nixos-generation-N.conf on the disk's EFI system
// partition naming the system's init and the root partition, and
// loader/loader.conf making it the default. The ESP is found as the FAT
// partition of the disk that holds ROOT's file system and written with
// mtools (this kernel has no vfat driver, so the ESP is never mounted).
// It builds nothing: without --system it fails.
const nixosInstallScript = `#!/bin/sh
# Test-bed stand-in for nixos-install (see nixosInstallScript in
# remote/testhosts/install.go).
set -eu
root=/mnt system=
while [ $# -gt 0 ]; do
  case "$1" in
    --root) root=$2; shift ;;
    --system) system=$2; shift ;;
    --no-root-passwd|--no-root-password|--no-channel-copy|--no-bootloader) ;;
    *) echo "nixos-install (test stand-in): unsupported argument $1" >&2; exit 1 ;;
  esac
  shift
done
if [ -z "$system" ]; then
  echo "nixos-install (test stand-in): needs --system PATH (it builds nothing)" >&2; exit 1
fi
if ! mountpoint -q "$root"; then
  echo "nixos-install (test stand-in): $root is not a mount point: partition and mount the disks first" >&2; exit 1
fi
if [ ! -e "$root$system" ]; then
  echo "nixos-install (test stand-in): $system is not in the store of $root: copy the closure there first" >&2; exit 1
fi
echo "installing the system $system into $root"
nix-env --store "$root" -p "$root/nix/var/nix/profiles/system" --set "$system"
mkdir -p "$root/etc" "$root/tmp" "$root/root"
chmod 1777 "$root/tmp"
chmod 700 "$root/root"
gen=$(readlink "$root/nix/var/nix/profiles/system" | sed -n 's/^system-\([0-9]*\)-link$/\1/p')
rootdev=$(findmnt -n -o SOURCE "$root")
disk=$(echo "$rootdev" | sed -e 's/p\{0,1\}[0-9]*$//')
esp=
for p in "$disk"*; do
  [ "$p" = "$disk" ] && continue
  if [ "$(blkid -o value -s TYPE "$p" 2>/dev/null || true)" = vfat ]; then esp=$p; break; fi
done
if [ -z "$esp" ]; then
  echo "nixos-install (test stand-in): no EFI system partition (FAT) on $disk" >&2; exit 1
fi
export MTOOLS_SKIP_CHECK=1
entry=$(mktemp)
printf 'title NixOS\nversion Generation %s %s\nlinux /EFI/nixos/kernel.efi\ninitrd /EFI/nixos/initrd.efi\noptions init=%s/init root=%s\n' \
  "$gen" "$(cat "$root$system/nixos-version" 2>/dev/null || true)" "$system" "$rootdev" > "$entry"
printf 'default nixos-generation-%s.conf\ntimeout 5\n' "$gen" > "$entry.loader"
mmd -i "$esp" ::/loader 2>/dev/null || true
mmd -i "$esp" ::/loader/entries 2>/dev/null || true
mcopy -o -i "$esp" "$entry" "::/loader/entries/nixos-generation-$gen.conf"
mcopy -o -i "$esp" "$entry.loader" ::/loader/loader.conf
rm -f "$entry" "$entry.loader"
echo "installation finished: boot entry nixos-generation-$gen on $esp"
`

// BootEntry is the default boot entry on a disk's EFI system partition.
type BootEntry struct {
	System string // the system's store path (init= without /init)
	Root   string // the root= partition
	ESP    string // the partition it was read from
}

// ReadBootEntry reads the default boot entry of disk (a loop device): the
// partition that holds loader/loader.conf, read with mtools. ok is false
// when no partition holds one.
func ReadBootEntry(disk string) (entry BootEntry, ok bool, err error) {
	parts, _ := filepath.Glob(disk + "p*")
	sort.Strings(parts)
	for _, p := range parts {
		loader, err := mtype(p, "::/loader/loader.conf")
		if err != nil {
			continue
		}
		def := ""
		for _, line := range strings.Split(loader, "\n") {
			if f := strings.Fields(line); len(f) == 2 && f[0] == "default" {
				def = f[1]
			}
		}
		if def == "" {
			return BootEntry{}, false, fmt.Errorf("boot entry on %s: loader.conf names no default entry", p)
		}
		text, err := mtype(p, "::/loader/entries/"+def)
		if err != nil {
			return BootEntry{}, false, fmt.Errorf("boot entry on %s: %w", p, err)
		}
		e := BootEntry{ESP: p}
		for _, line := range strings.Split(text, "\n") {
			f := strings.Fields(line)
			if len(f) == 0 || f[0] != "options" {
				continue
			}
			for _, opt := range f[1:] {
				if v, ok := strings.CutPrefix(opt, "init="); ok {
					e.System = strings.TrimSuffix(v, "/init")
				}
				if v, ok := strings.CutPrefix(opt, "root="); ok {
					e.Root = v
				}
			}
		}
		if e.System == "" || e.Root == "" {
			return BootEntry{}, false, fmt.Errorf("boot entry %s on %s: no init= or root= option", def, p)
		}
		return e, true, nil
	}
	return BootEntry{}, false, nil
}

func mtype(dev, file string) (string, error) {
	cmd := exec.Command("mtype", "-i", dev, file)
	cmd.Env = append(os.Environ(), "MTOOLS_SKIP_CHECK=1")
	out, err := cmd.Output()
	return string(out), err
}

// attachDisk creates the host's disk image of size bytes and attaches it
// to a free loop device, which it returns.
func attachDisk(h Host, size int64) (string, error) {
	img := h.DiskImage()
	f, err := os.OpenFile(img, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return "", fmt.Errorf("disk image: %w", err)
	}
	err = f.Truncate(size)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return "", fmt.Errorf("disk image: %w", err)
	}
	out, err := exec.Command("losetup", "-f", "--show", "-P", img).CombinedOutput()
	if err != nil {
		return "", fmt.Errorf("attach disk image %s: %w: %s", img, err, bytes.TrimSpace(out))
	}
	return strings.TrimSpace(string(out)), nil
}

// detachDisk detaches loop device dev if it still holds img: a device
// whose backing file is another is not ours.
func detachDisk(dev, img string) error {
	out, err := exec.Command("losetup", "-n", "-O", "BACK-FILE", dev).Output()
	if err != nil || strings.TrimSpace(string(out)) != img {
		return nil // already detached, or reused by someone else
	}
	exec.Command("partx", "-d", dev).Run() // the partitions partx -a added
	if out, err := exec.Command("losetup", "-d", dev).CombinedOutput(); err != nil {
		return fmt.Errorf("detach disk %s (%s): %w: %s", dev, img, err, bytes.TrimSpace(out))
	}
	return nil
}

// Kexec restarts the host named name into the NixOS installer, as the
// kexec installer's kexec/run does: the same host key and disk, a new
// boot ID, a fresh /run and an empty store in RAM. It returns the host as
// it is now.
func (f *Fleet) Kexec(ctx context.Context, name string) (Host, error) {
	st, h, err := f.lookup(name)
	if err != nil {
		return Host{}, fmt.Errorf("kexec test host %s: %w", name, err)
	}
	defer st.op.Unlock()
	if h, err = f.kexec(ctx, h, st); err != nil {
		return Host{}, fmt.Errorf("kexec test host %s: %w", name, err)
	}
	return h, nil
}

// kexec restarts h as KindInstaller. The caller holds st.op.
func (f *Fleet) kexec(ctx context.Context, h Host, st *hostState) (Host, error) {
	if h.Kind == KindNixOS {
		return h, errors.New("only rescue, installer and disk-booted hosts kexec in this test bed")
	}
	// The installer presents the running system's host key (the NixOS
	// kexec installer copies it): the key file in the host's sshd folder,
	// which a disk-booted host's key is copied to first (its sysroot is
	// mounted inside the host only, so read while it runs).
	if h.Kind == KindDisk {
		key, err := f.RunInHost(h.Name, "cat", h.hostKeyFile())
		if err != nil {
			return h, fmt.Errorf("read the installed system's host key: %w", err)
		}
		if err := os.WriteFile(filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key"), key, 0o600); err != nil {
			return h, err
		}
	}
	if err := f.halt(st); err != nil {
		return h, err
	}
	h.Kind = KindInstaller
	f.setHost(h)
	if err := writeSSHDConfig(h); err != nil {
		return h, err
	}
	return h, f.bootAs(ctx, h, st, "")
}

// bootDisk turns h into KindDisk booting entry: the root partition to
// mount, the installed system's host key. The caller holds st.op and
// launches the host after.
func (f *Fleet) bootDisk(h Host, entry BootEntry) (Host, error) {
	if err := os.WriteFile(filepath.Join(h.Root, "boot-root"), []byte(entry.Root+"\n"), 0o600); err != nil {
		return h, err
	}
	h.Kind = KindDisk
	if err := writeSSHDConfig(h); err != nil {
		return h, err
	}
	return h, nil
}

// readDiskHostKey reads the public key of the installed system's host key,
// from inside the host (its sysroot is mounted there only).
func (f *Fleet) readDiskHostKey(h Host) (Host, error) {
	out, err := f.RunInHost(h.Name, "cat", h.hostKeyFile())
	if err != nil {
		return h, err
	}
	signer, err := ssh.ParsePrivateKey(out)
	if err != nil {
		return h, fmt.Errorf("installed host key %s: %w", h.hostKeyFile(), err)
	}
	h.HostKey = strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	f.setHost(h)
	return h, f.writeSSHConfig()
}
