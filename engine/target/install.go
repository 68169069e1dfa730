package target

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// KindInstall is the kind of install(...) targets: a host that does not
// run NixOS yet, reached over SSH as it is now, onto which NixOS is
// installed (nixos-anywhere style) before it is deployed like any other.
const KindInstall = "install"

// Install is the driver of install(...) targets. It reaches the host as
// SSH does (the host as it is now, then the kexec'd installer with the
// same key, then the installed system with the key ferry generated) and
// lends the install pipeline (engine/machines/install.go) the few steps
// that touch the host itself: reading its facts (ReadFacts), booting the
// installer (Kexec) and restarting it into the installed system
// (RestartInto). The phases' order, state and checks are the pipeline's.
type Install struct{}

var _ Rebooter = Install{}

// Kind is "install".
func (Install) Kind() string { return KindInstall }

// Endpoint is the host as its ssh(...) says.
func (Install) Endpoint(ctx context.Context, env Env, t plan.Target) (remote.Target, error) {
	return SSH{}.Endpoint(ctx, env, t)
}

// Wait waits as for ssh targets.
func (Install) Wait(ctx context.Context, env Env, ep remote.Target, timeout time.Duration) error {
	return SSH{}.Wait(ctx, env, ep, timeout)
}

// Reboot reboots over SSH: once installed, the machine is a NixOS host.
func (Install) Reboot(ctx context.Context, env Env, ep remote.Target, opts remote.RebootOptions) (*remote.Conn, error) {
	return SSH{}.Reboot(ctx, env, ep, opts)
}

// factsScript prints the host's facts in sections: uname -m, MemTotal,
// whether /sys/firmware/efi exists, /etc/os-release, lsblk's JSON,
// /run/current-system, and blkid's probe of the disks in probe and their
// partitions (only those: blkid without devices would read every block
// device of the machine).
func factsScript(probe []string) string {
	script := `PATH=/run/current-system/sw/bin:/usr/sbin:/usr/bin:/sbin:/bin:$PATH
uname -m; echo '--ferry--'
sed -n 's/^MemTotal: *\([0-9]*\) kB$/\1/p' /proc/meminfo; echo '--ferry--'
if [ -d /sys/firmware/efi ]; then echo efi; fi; echo '--ferry--'
cat /etc/os-release 2>/dev/null; echo '--ferry--'
lsblk -J -b -o NAME,PATH,SIZE,MODEL,SERIAL,TYPE,FSTYPE,MOUNTPOINT,LABEL; echo '--ferry--'
readlink /run/current-system 2>/dev/null || true; echo '--ferry--'
`
	if len(probe) > 0 {
		var disks []string
		for _, d := range probe {
			disks = append(disks, remote.Quote(d))
		}
		script += "set -- $(lsblk -nrpo PATH -- " + strings.Join(disks, " ") + " 2>/dev/null)\n" +
			"if [ $# -gt 0 ]; then blkid -c /dev/null -o export \"$@\" 2>/dev/null || true; fi"
	}
	return script
}

// ReadFacts reads the facts of the host on conn, in one round trip; the
// disks in probe (those an install wipes) and their partitions are probed
// for file systems too (lsblk reads those from udev, which rescue systems
// may lack).
func (Install) ReadFacts(ctx context.Context, conn *remote.Conn, probe []string) (plan.HostFacts, error) {
	out, err := conn.Output(ctx, factsScript(probe))
	if err != nil {
		return plan.HostFacts{}, fmt.Errorf("read the host's facts: %w", err)
	}
	return parseFacts(out)
}

func parseFacts(out string) (plan.HostFacts, error) {
	parts := strings.Split(out, "--ferry--\n")
	if len(parts) != 7 {
		return plan.HostFacts{}, fmt.Errorf("read the host's facts: unexpected output %q", out)
	}
	var f plan.HostFacts
	f.Arch = strings.TrimSpace(parts[0])
	if kb, err := strconv.ParseInt(strings.TrimSpace(parts[1]), 10, 64); err == nil {
		f.MemBytes = kb << 10
	}
	f.EFI = strings.TrimSpace(parts[2]) == "efi"
	osr := map[string]string{}
	for _, line := range strings.Split(parts[3], "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			if uq, err := strconv.Unquote(v); err == nil {
				v = uq
			}
			osr[k] = strings.Trim(v, `'`)
		}
	}
	f.OS, f.OSID, f.VariantID = osr["PRETTY_NAME"], osr["ID"], osr["VARIANT_ID"]
	if f.OS == "" {
		f.OS = strings.TrimSpace(osr["NAME"] + " " + osr["VERSION_ID"])
	}
	var lsblk struct {
		Devices []lsblkDevice `json:"blockdevices"`
	}
	if err := json.Unmarshal([]byte(parts[4]), &lsblk); err != nil {
		return f, fmt.Errorf("read the host's facts: lsblk: %w", err)
	}
	probed := blkidTypes(parts[6])
	for _, d := range lsblk.Devices {
		if dev := d.device(probed); (dev.Type == "disk" || dev.Type == "loop") && dev.Size > 0 {
			f.Disks = append(f.Disks, dev)
		}
	}
	f.Current = strings.TrimSpace(parts[5])
	return f, nil
}

// blkidTypes reads blkid -o export: the file system type (else the
// partition table type) and label by device path. lsblk reads these from
// udev, which hosts without udev (rescue systems, containers) lack.
func blkidTypes(out string) map[string][2]string {
	types := map[string][2]string{}
	for _, block := range strings.Split(out, "\n\n") {
		kv := map[string]string{}
		for _, line := range strings.Split(block, "\n") {
			if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
				kv[k] = v
			}
		}
		if dev := kv["DEVNAME"]; dev != "" {
			t := kv["TYPE"]
			if t == "" {
				t = kv["PTTYPE"]
			}
			types[dev] = [2]string{t, kv["LABEL"]}
		}
	}
	return types
}

// lsblkDevice is one device of lsblk -J -b: sizes are numbers, or strings
// in older util-linux; absent values null.
type lsblkDevice struct {
	Name, Path          string
	Size                json.Number
	Model, Serial, Type *string
	FSType              *string `json:"fstype"`
	Mountpoint, Label   *string
	Children            []lsblkDevice
}

func (d lsblkDevice) device(probed map[string][2]string) plan.BlockDevice {
	s := func(p *string) string {
		if p == nil {
			return ""
		}
		return strings.TrimSpace(*p)
	}
	size, _ := strconv.ParseInt(strings.Trim(string(d.Size), `"`), 10, 64)
	out := plan.BlockDevice{Name: d.Name, Path: d.Path, Size: size, Model: s(d.Model), Serial: s(d.Serial),
		Type: s(d.Type), FSType: s(d.FSType), Mountpoint: s(d.Mountpoint), Label: s(d.Label)}
	if p, ok := probed[out.Path]; ok && out.FSType == "" {
		out.FSType = p[0]
		if out.Label == "" {
			out.Label = p[1]
		}
	}
	for _, c := range d.Children {
		out.Children = append(out.Children, c.device(probed))
	}
	return out
}

// FactsMoved says what moved between the facts a plan was made against
// and the host's now, for the disks in disks and the OS; "" when nothing
// did. Other disks are not compared: they are not touched.
func FactsMoved(planned, now plan.HostFacts, disks []string) string {
	var moved []string
	if planned.Arch != now.Arch {
		moved = append(moved, fmt.Sprintf("architecture %s, now %s", planned.Arch, now.Arch))
	}
	if planned.OS != now.OS || planned.VariantID != now.VariantID {
		moved = append(moved, fmt.Sprintf("OS %q, now %q", planned.OS, now.OS))
	}
	for _, path := range disks {
		was, _ := planned.Disk(path)
		is, ok := now.Disk(path)
		switch {
		case !ok:
			moved = append(moved, "disk "+path+" is gone")
		case !sameDisk(was, is):
			moved = append(moved, fmt.Sprintf("disk %s was %s, now %s", path, was.Describe(planned.OS), is.Describe(now.OS)))
		}
	}
	return strings.Join(moved, "; ")
}

func sameDisk(a, b plan.BlockDevice) bool {
	ja, _ := json.Marshal(a)
	jb, _ := json.Marshal(b)
	return bytes.Equal(ja, jb)
}

// DefaultKexecImage is the kexec installer nixos-images publishes for
// arch (uname -m: x86_64, aarch64).
func DefaultKexecImage(arch string) string {
	return "https://github.com/nix-community/nixos-images/releases/download/nixos-unstable/nixos-kexec-installer-noninteractive-" + arch + "-linux.tar.gz"
}

// openImage opens a kexec image: an http(s) URL or a local path.
func openImage(ctx context.Context, url string) (io.ReadCloser, error) {
	if !strings.HasPrefix(url, "http://") && !strings.HasPrefix(url, "https://") {
		return os.Open(url)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp.Body, nil
}

// PinKexecImage reads the kexec image at url (http(s) or an absolute
// path) and pins it by its SHA-256. An image whose file name or ELF
// files show an architecture other than hostArch (uname -m) is refused
// (see install_arch.go for what can be told before it runs).
func (Install) PinKexecImage(ctx context.Context, url, hostArch string) (*plan.KexecImage, error) {
	r, err := openImage(ctx, url)
	if err != nil {
		return nil, fmt.Errorf("kexec image %s: %w", url, err)
	}
	defer r.Close()
	h := sha256.New()
	tee := io.TeeReader(r, h)
	byELF := archOfTarball(tee)
	if _, err := io.Copy(io.Discard, tee); err != nil {
		return nil, fmt.Errorf("kexec image %s: %w", url, err)
	}
	for _, c := range [][2]string{{archOfName(url), "its file name"}, {byELF, "the ELF files in it"}} {
		if c[0] != "" && hostArch != "" && c[0] != hostArch {
			return nil, fmt.Errorf("kexec image %s is for %s (from %s), but the host is %s: set kexec_image to the %s installer (or leave it out for nixos-images' default)", url, c[0], c[1], hostArch, hostArch)
		}
	}
	return &plan.KexecImage{URL: url, SHA256: hex.EncodeToString(h.Sum(nil))}, nil
}

// ErrKexecUnsupported is returned by Kexec for a host it cannot kexec.
var ErrKexecUnsupported = errors.New("kexec: no kexec image and no kexec-installer on the host")

// Kexec boots the NixOS kexec installer on the host and waits for its new
// boot with the same host key (ep's pin: the installer copies the running
// system's host keys; any other key is refused, naming both
// fingerprints). With img, the tarball is streamed to the host (its hash
// checked there before anything runs), unpacked into /root/kexec and its
// kexec/run started, as nixos-anywhere does; without, the host's own
// kexec-installer is run.
func (Install) Kexec(ctx context.Context, env Env, conn *remote.Conn, ep remote.Target, img *plan.KexecImage, timeout time.Duration) (*remote.Conn, error) {
	before, err := remote.BootID(ctx, conn)
	if err != nil {
		return nil, err
	}
	run := "kexec-installer"
	if img != nil {
		r, err := openImage(ctx, img.URL)
		if err != nil {
			return nil, fmt.Errorf("kexec image %s: %w", img.URL, err)
		}
		defer r.Close()
		unpack := "set -e; rm -rf /root/kexec; mkdir -p /root/kexec; cat > /root/kexec/image.tar.gz\n" +
			"sum=$(sha256sum /root/kexec/image.tar.gz | cut -d' ' -f1)\n" +
			"if [ \"$sum\" != " + remote.Quote(img.SHA256) + " ]; then echo \"kexec image: sha256 $sum, but the plan pinned " + img.SHA256 + "\" >&2; exit 1; fi\n" +
			"tar -C /root/kexec -xzf /root/kexec/image.tar.gz"
		if err := conn.Run(ctx, unpack, remote.RunOptions{Stdin: r}); err != nil {
			return nil, fmt.Errorf("upload the kexec image %s: %w", img.URL, err)
		}
		run = "/root/kexec/kexec/run"
	}
	if err := conn.Run(ctx, remote.RestartScript(run), remote.RunOptions{}); err != nil {
		return nil, fmt.Errorf("start %s: %w", run, err)
	}
	env.progress("install: kexec started; waiting up to %s for the installer", timeout)
	next, err := env.SSH.WaitForBoot(ctx, ep, before, remote.RebootOptions{Timeout: timeout, Poll: 200 * time.Millisecond})
	if err != nil {
		return nil, fmt.Errorf("wait for the kexec installer: %w", err)
	}
	return next, nil
}

// RestartInto reboots the installer into the installed system and waits
// for its new boot, holding it to ep's host key (the one ferry generated
// and wrote into the system).
func (Install) RestartInto(ctx context.Context, env Env, conn *remote.Conn, ep remote.Target, timeout time.Duration) (*remote.Conn, error) {
	before, err := remote.BootID(ctx, conn)
	if err != nil {
		return nil, err
	}
	if err := conn.Run(ctx, remote.RestartScript("umount -R /mnt 2>/dev/null; reboot"), remote.RunOptions{}); err != nil {
		return nil, fmt.Errorf("reboot into the installed system: %w", err)
	}
	env.progress("install: reboot started; waiting up to %s for the installed system", timeout)
	next, err := env.SSH.WaitForBoot(ctx, ep, before, remote.RebootOptions{Timeout: timeout, Poll: 200 * time.Millisecond, Previous: conn.HostKey()})
	if err != nil {
		return nil, fmt.Errorf("wait for the installed system: %w", err)
	}
	return next, nil
}
