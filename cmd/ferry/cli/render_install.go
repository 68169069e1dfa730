package cli

import (
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// installWipes is what an install wipes, for the plan and the prompt:
// `/dev/loop3 (256 MiB, serial S; now: ext4 "/" of Debian 12)`.
func installWipes(in *plan.Install) string {
	if len(in.Wipes) == 0 {
		return ""
	}
	var out []string
	for _, path := range in.Wipes {
		d, _ := in.Facts.Disk(path)
		out = append(out, d.Describe(in.Facts.OS))
	}
	return strings.Join(out, ", ")
}

// renderInstall writes a machine whose deploy installs NixOS onto its
// host: the disks it wipes first, then the host's facts and the phases.
func renderInstall(w io.Writer, m *plan.Machine, c colors) {
	in := m.Install
	what := "onto the file systems mounted at /mnt (no disko phase: no disk is wiped)"
	if wipes := installWipes(in); wipes != "" {
		what = c.red + "wipes " + wipes + c.reset
	} else if slices.Contains(in.Phases, "disko") && slices.Contains(in.Done, "disko") {
		what = "(the disks were wiped by the earlier apply)"
	}
	fmt.Fprintf(w, "\n  # %s%s%s will be %sINSTALLED%s: %s", c.bold, m.Addr, c.reset, c.red, c.reset, what)
	if m.DeclaredAt != "" {
		fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
	}
	fmt.Fprintf(w, "\n%s  +%s %s  %s\n", c.green, c.reset, m.Addr, targetText(m.Target))
	fmt.Fprintf(w, "      system:  %s\n", m.Path)
	f := in.Facts
	boot := "BIOS"
	if f.EFI {
		boot = "EFI"
	}
	fmt.Fprintf(w, "      host:    %s, %s, %s memory, %s boot; disks: %s\n", orNone(f.OS), f.Arch, plan.Bytes(f.MemBytes), boot, f.DiskPaths())
	if redo := in.Redo(); len(redo) > 0 {
		fmt.Fprintf(w, "      phases:  %s\n", strings.Join(redo, ", "))
	} else {
		fmt.Fprintf(w, "      phases:  none left: apply verifies the running system and records the install\n")
	}
	if in.KexecImage != nil {
		fmt.Fprintf(w, "      kexec:   %s (sha256 %s)\n", in.KexecImage.URL, in.KexecImage.SHA256)
	} else if !slices.Contains(in.Phases, "kexec") {
		fmt.Fprintf(w, "      kexec:   not run (the host runs the NixOS installer, or kexec = \"never\")\n")
	}
	if fp, err := remote.Fingerprint(m.Target.HostKey); err == nil && slices.Contains(in.Done, "reboot") {
		fmt.Fprintf(w, "      host key: %s (the installed system's, written by the earlier apply; pinned)\n", fp)
	} else if err == nil {
		gets := "a key ferry generates, pinned before its first login"
		if in.HostKey != "" {
			given, _ := remote.Fingerprint(in.HostKey)
			gets = given + " from " + in.HostKeyFile + " (installed_host_key), pinned"
		}
		fmt.Fprintf(w, "      host key: %s now (pinned; expected from the installer too); the installed system gets %s\n", fp, gets)
	}
	if m.Reason != "" {
		fmt.Fprintf(w, "      %snote:%s %s\n", c.yellow, c.reset, m.Reason)
	}
	renderKeys(w, m, c)
	for _, ch := range m.Checks {
		fmt.Fprintf(w, "      check:   %s\n", ch.Describe())
	}
}

// planInstalls lists the machines p installs, with what each wipes.
func planInstalls(p *plan.Plan) []string {
	var out []string
	for _, m := range p.Machines {
		if m.Action == plan.Deploy && m.Install != nil {
			s := m.Addr
			if wipes := installWipes(m.Install); wipes != "" {
				s += " (wipes " + wipes + ")"
			}
			out = append(out, s)
		}
	}
	return out
}
