package plan

import (
	"fmt"
	"slices"
	"strings"
)

// Install is the install of NixOS onto a machine's host (an install(...)
// target): a destructive step planned as its own action. A machine with
// an Install is deployed (Action Deploy) by installing: apply re-reads
// Facts and refuses when a disk or the OS moved, then runs Phases.
type Install struct {
	// Phases are the phases apply runs, in order: some of "kexec",
	// "disko", "install", "reboot".
	Phases []string `json:"phases"`
	// Done are the phases an earlier apply completed (state): the plan
	// resumes after them. Empty for a fresh install.
	Done []string `json:"done,omitempty"`
	// Kexec is the install's kexec setting: "auto", "always" or "never".
	Kexec string `json:"kexec"`
	// KexecImage is the installer tarball apply boots with kexec, pinned
	// by hash; nil when the host's own kexec-installer is run (the host
	// runs an installer already, or has the installer's kexec/run on its
	// PATH).
	KexecImage *KexecImage `json:"kexec_image,omitempty"`
	// Disks are the disks of the machine's disko layout (device paths),
	// each as the host has it in Facts.Disks: apply refuses when one
	// moved. Wipes are those the disko phase destroys: Disks when it is
	// run (or redone), else none.
	Disks []string `json:"disks,omitempty"`
	Wipes []string `json:"wipes,omitempty"`
	// DiskoDrv and Disko are the derivation and output of the layout's
	// script (config.system.build.diskoScript).
	DiskoDrv string `json:"disko_drv,omitempty"`
	Disko    string `json:"disko,omitempty"`
	// MinMemory is the least memory the host needs, in bytes.
	MinMemory int64 `json:"min_memory"`
	// HostKeyFile and HostKey, when the configuration gives the installed
	// system's host key (install(installed_host_key = FILE)): the file as
	// configured (relative to the configuration folder) and the public
	// key the plan read from it, which apply holds the file to. The
	// private key is in neither plan nor state.
	HostKeyFile string `json:"installed_host_key_file,omitempty"`
	HostKey     string `json:"installed_host_key,omitempty"`
	// Facts are the host's facts the plan was made against.
	Facts HostFacts `json:"facts"`
}

// KexecImage is a kexec installer tarball, pinned.
type KexecImage struct {
	// URL is where it is read from: an http(s) URL or an absolute path.
	URL    string `json:"url"`
	SHA256 string `json:"sha256"`
}

// Redo lists the phases apply runs again or for the first time, after
// Done.
func (i *Install) Redo() []string {
	var out []string
	for _, p := range i.Phases {
		if !slices.Contains(i.Done, p) {
			out = append(out, p)
		}
	}
	return out
}

// HostFacts are what the plan read of a host before installing onto it.
type HostFacts struct {
	Arch     string `json:"arch"`      // uname -m
	MemBytes int64  `json:"mem_bytes"` // MemTotal
	EFI      bool   `json:"efi"`       // /sys/firmware/efi exists
	// OS is /etc/os-release's PRETTY_NAME (else NAME VERSION_ID); OSID
	// its ID and VariantID its VARIANT_ID ("installer" for the NixOS
	// kexec installer).
	OS        string `json:"os"`
	OSID      string `json:"os_id,omitempty"`
	VariantID string `json:"variant_id,omitempty"`
	// Disks are lsblk's devices of type disk (loop devices included),
	// with their partitions.
	Disks []BlockDevice `json:"disks"`
	// Current is the system the host runs (/run/current-system), "" for
	// none.
	Current string `json:"current,omitempty"`
}

// BlockDevice is one lsblk device.
type BlockDevice struct {
	Name       string        `json:"name"`
	Path       string        `json:"path"`
	Size       int64         `json:"size"`
	Model      string        `json:"model,omitempty"`
	Serial     string        `json:"serial,omitempty"`
	Type       string        `json:"type"`
	FSType     string        `json:"fstype,omitempty"`
	Mountpoint string        `json:"mountpoint,omitempty"`
	Label      string        `json:"label,omitempty"`
	Children   []BlockDevice `json:"children,omitempty"`
}

// Disk finds the disk at path.
func (f HostFacts) Disk(path string) (BlockDevice, bool) {
	for _, d := range f.Disks {
		if d.Path == path {
			return d, true
		}
	}
	return BlockDevice{}, false
}

// DiskPaths lists the host's disks with their sizes, for errors:
// "/dev/loop3 (256 MiB), /dev/sda (20 GiB)"; "no disks" when it has none.
func (f HostFacts) DiskPaths() string {
	if len(f.Disks) == 0 {
		return "no disks"
	}
	out := make([]string, len(f.Disks))
	for i, d := range f.Disks {
		out[i] = d.Path + " (" + Bytes(d.Size) + ")"
	}
	return strings.Join(out, ", ")
}

// Describe is how a plan names a disk it wipes and what is on it now:
// `/dev/sda (256 GiB, QEMU HARDDISK, serial S1; now: ext4 "/" of Debian
// GNU/Linux 12)`. os is the host's OS, said of the file system mounted
// at /.
func (d BlockDevice) Describe(os string) string {
	var b strings.Builder
	b.WriteString(d.Path + " (" + Bytes(d.Size))
	if d.Model != "" {
		b.WriteString(", " + d.Model)
	}
	if d.Serial != "" {
		b.WriteString(", serial " + d.Serial)
	}
	var now []string
	var walk func(d BlockDevice)
	walk = func(d BlockDevice) {
		if d.FSType != "" {
			s := d.FSType
			if d.Mountpoint != "" {
				s += fmt.Sprintf(" %q", d.Mountpoint)
				if d.Mountpoint == "/" && os != "" {
					s += " of " + os
				}
			} else if d.Label != "" {
				s += " " + d.Label
			}
			now = append(now, s)
		}
		for _, c := range d.Children {
			walk(c)
		}
	}
	walk(d)
	if len(now) == 0 {
		now = []string{"no file system"}
	}
	b.WriteString("; now: " + strings.Join(now, ", ") + ")")
	return b.String()
}

// Bytes renders n bytes for people: "256 MiB", "1.5 GiB".
func Bytes(n int64) string {
	units := []string{"B", "KiB", "MiB", "GiB", "TiB"}
	f, u := float64(n), 0
	for f >= 1024 && u < len(units)-1 {
		f /= 1024
		u++
	}
	if f == float64(int64(f)) {
		return fmt.Sprintf("%d %s", int64(f), units[u])
	}
	return fmt.Sprintf("%.1f %s", f, units[u])
}
