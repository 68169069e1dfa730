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
