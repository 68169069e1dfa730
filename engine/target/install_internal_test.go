package target

import (
	"strings"
	"testing"
)

// TestParseFacts reads the facts script's output: lsblk's JSON with
// null values, blkid's types for hosts without udev, os-release quoting.
func TestParseFacts(t *testing.T) {
	out := "x86_64\n--ferry--\n2048000\n--ferry--\nefi\n--ferry--\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\n--ferry--\n" +
		`{"blockdevices": [{"name":"loop3","path":"/dev/loop3","size":268435456,"model":null,"serial":null,"type":"loop","fstype":null,"mountpoint":null,"label":null,
		  "children":[{"name":"loop3p1","path":"/dev/loop3p1","size":1000,"model":null,"serial":null,"type":"part","fstype":null,"mountpoint":"/","label":null}]},
		 {"name":"zram0","path":"/dev/zram0","size":0,"model":null,"serial":null,"type":"disk","fstype":null,"mountpoint":null,"label":null}]}` +
		"\n--ferry--\n\n--ferry--\nDEVNAME=/dev/loop3\nPTTYPE=gpt\n\nDEVNAME=/dev/loop3p1\nTYPE=ext4\nLABEL=root\n"
	f, err := parseFacts(out)
	if err != nil {
		t.Fatal(err)
	}
	if f.Arch != "x86_64" || f.MemBytes != 2048000<<10 || !f.EFI || f.OS != "Debian GNU/Linux 12 (bookworm)" || f.OSID != "debian" || len(f.Disks) != 1 {
		t.Fatalf("facts %+v", f)
	}
	if got, want := f.Disks[0].Describe(f.OS), `/dev/loop3 (256 MiB; now: gpt, ext4 "/" of Debian GNU/Linux 12 (bookworm))`; got != want {
		t.Errorf("Describe = %s, want %s", got, want)
	}
	now := f
	now.Disks = nil
	if moved := FactsMoved(f, now, []string{"/dev/loop3"}); !strings.Contains(moved, "disk /dev/loop3 is gone") {
		t.Errorf("FactsMoved = %q", moved)
	}
	if moved := FactsMoved(f, f, []string{"/dev/loop3"}); moved != "" {
		t.Errorf("FactsMoved of the same facts = %q", moved)
	}
}

// TestArchOfKexecImage: the architecture of a kexec image is told from
// its file name, else from the first ELF file of a gzip tarball; an image
// that shows neither cannot be checked ("").
func TestArchOfKexecImage(t *testing.T) {
	for url, want := range map[string]string{
		"https://github.com/nix-community/nixos-images/releases/download/nixos-unstable/nixos-kexec-installer-noninteractive-aarch64-linux.tar.gz": "aarch64",
		"/srv/kexec-x86_64-linux.tar.gz": "x86_64",
		"/srv/installer-arm64.tar.xz":    "aarch64",
		"/srv/kexec.tar.gz":              "",
		"/srv/x86_64-to-aarch64.tar.gz":  "",
	} {
		if got := archOfName(url); got != want {
			t.Errorf("archOfName(%s) = %q, want %q", url, got, want)
		}
	}
	if got := archOfTarball(strings.NewReader("not gzip")); got != "" {
		t.Errorf("archOfTarball(not gzip) = %q", got)
	}
}
