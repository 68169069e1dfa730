//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// TestSweep plants what killed and live writers leave in a folder and
// checks that Sweep removes exactly the dead ones' temporary files (and
// legacy ones, old enough) and returns the rest.
func TestSweep(t *testing.T) {
	me := Self()
	if me.Tag == "" {
		t.Fatal("this process has no tag: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	dead := Writer{PID: deadPID(t), Tag: me.Tag}
	live := Writer{PID: os.Getpid(), Tag: me.Tag}
	otherScope := Writer{PID: dead.PID, Tag: writerTag("elsewhere", ProcessScope())}
	noScope := Writer{PID: dead.PID}
	const day = 24 * time.Hour
	tests := []struct {
		name          string
		names         Names
		legacy        Legacy
		removed, kept []string
		old           []string // planted two days old
	}{
		{
			name:   "beside a file",
			names:  DefaultNames,
			legacy: Legacy{Target: "motd", Age: day},
			removed: []string{
				DefaultNames.name(dead, "motd", "a1b2c3"),
				DefaultNames.name(dead, "other.conf", "a1b2c3"), // another file's
				".motd.ferry-123456789",                         // an older ferry's, old
			},
			kept: []string{
				"motd",
				DefaultNames.name(live, "motd", "a1b2c3"),
				DefaultNames.name(otherScope, "motd", "a1b2c3"),
				DefaultNames.name(noScope, "motd", "a1b2c3"),
				".motd.ferry-987654321",      // an older ferry's, fresh: maybe still writing
				".other.conf.ferry-12345678", // an older ferry's, old, of another target
				".motd.ferry-notes",
				statestoreNames.name(dead, "", "a1b2c3"), // another scheme
				"notes.txt",
			},
			old: []string{".motd.ferry-123456789", ".other.conf.ferry-12345678"},
		},
		{
			name:    "no legacy",
			names:   DefaultNames,
			removed: []string{DefaultNames.name(dead, "plan.json", "a1b2c3")},
			kept:    []string{"plan.json", ".plan.json.ferry-123456789", "plan.json.tmp"},
			old:     []string{".plan.json.ferry-123456789", "plan.json.tmp"},
		},
		{
			name:   "statestore's",
			names:  statestoreNames,
			legacy: Legacy{Age: day},
			removed: []string{
				statestoreNames.name(dead, "", "a1b2c3"),
				".tmp-123456789",
			},
			kept: []string{
				statestoreNames.name(live, "", "a1b2c3"),
				statestoreNames.name(otherScope, "", "a1b2c3"),
				statestoreNames.name(noScope, "", "a1b2c3"),
				".tmp-987654321",
				".tmp-not-ours",
				"lock.json",
			},
			old: []string{".tmp-123456789"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			for _, name := range append(slices.Clone(tt.removed), tt.kept...) {
				if err := os.WriteFile(filepath.Join(dir, name), []byte("partial"), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			if err := os.Mkdir(filepath.Join(dir, tt.names.name(dead, "folder", "a1b2c3")), 0o700); err != nil {
				t.Fatal(err)
			}
			old := time.Now().Add(-2 * day)
			for _, name := range tt.old {
				if err := os.Chtimes(filepath.Join(dir, name), old, old); err != nil {
					t.Fatal(err)
				}
			}
			var returned []string
			for _, de := range tt.names.Sweep(dir, tt.legacy) {
				returned = append(returned, de.Name())
			}
			es, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var left []string
			for _, e := range es {
				left = append(left, e.Name())
			}
			want := append(slices.Clone(tt.kept), tt.names.name(dead, "folder", "a1b2c3")) // folders are not judged
			slices.Sort(want)
			if d := cmp.Diff(want, left); d != "" {
				t.Errorf("folder after Sweep (-want +got):\n%s", d)
			}
			if d := cmp.Diff(want, returned); d != "" {
				t.Errorf("Sweep returned (-want +got):\n%s", d)
			}
		})
	}
	if got := Sweep(filepath.Join(t.TempDir(), "missing"), Legacy{}); got != nil {
		t.Errorf("Sweep of a missing folder = %v, want nil", got)
	}
}
