//go:build unix

package local

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
	"github.com/nixferry/ferry/providers"
)

// deadPID returns the PID of a process that has exited and been reaped.
func deadPID(t *testing.T) int {
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	return cmd.Process.Pid
}

// TestTempFileNoWiderThanFinalMode: while the content is written, the
// temporary file allows nothing the final file does not (umask 0, so the
// modes are ferry's own).
func TestTempFileNoWiderThanFinalMode(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	for _, mode := range []string{"0400", "0444", "0000", "0640", "0600", "0644", "0755", "0666"} {
		t.Run(mode, func(t *testing.T) {
			dir := t.TempDir()
			r := New(dir).(*file)
			var tempPerm os.FileMode
			seen := false
			r.tempCreated = func(tmp string) {
				info, err := os.Stat(tmp)
				if err != nil {
					t.Fatal(err)
				}
				tempPerm, seen = info.Mode().Perm(), true
			}
			create(t, r, map[string]any{"path": "f", "content": "secret", "mode": mode})
			final, _ := parseMode("", mode)
			if !seen {
				t.Fatal("no temporary file was created")
			}
			if extra := tempPerm &^ final; extra != 0 {
				t.Errorf("temporary file mode %04o allows %04o that the final mode %04o does not", tempPerm, extra, final)
			}
			info, err := os.Stat(filepath.Join(dir, "f"))
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != final {
				t.Errorf("final mode %04o, want %04o", info.Mode().Perm(), final)
			}
		})
	}
}

// TestSweepsDeadRunsTempFiles plants what a killed run leaves beside a
// file (and what a live one is writing), then checks that create, update,
// read and delete of the file remove the dead run's and nothing else.
func TestSweepsDeadRunsTempFiles(t *testing.T) {
	me := atomicfile.Self()
	if me.Tag == "" {
		t.Fatal("this process has no writer tag: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	// tempName is the name a writer of pid and tag gives a temporary file
	// of target.
	tempName := func(target string, pid int, tag string) string {
		return fmt.Sprintf(".%s.ferry-%d-%s-a1b2c3", target, pid, tag)
	}
	dead := deadPID(t)
	removed := []string{
		tempName("motd", dead, me.Tag),
		tempName("other.conf", dead, me.Tag), // another file's, same folder
		".motd.ferry-123456789",              // an older ferry's, two days old
	}
	kept := []string{
		"motd",                                // the target, when there is one
		tempName("motd", os.Getpid(), me.Tag), // a live run's
		tempName("motd", dead, "0123456789abcdef"), // of another host or container
		tempName("motd", dead, "x"),                // of a writer whose scope is unknown
		".motd.ferry-987654321",                    // an older ferry's, fresh: maybe still writing
		".other.conf.ferry-12345678",               // an older ferry's, two days old, of a file this resource does not own
		".motd.ferry-notes",                        // the user's
		"notes.txt",
	}
	oldTime := time.Now().Add(-2 * legacyTempAge)
	setup := func(t *testing.T) string {
		dir := t.TempDir()
		for _, name := range append(slices.Clone(removed), kept...) {
			if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
				t.Fatal(err)
			}
		}
		for _, name := range []string{".motd.ferry-123456789", ".other.conf.ferry-12345678"} {
			if err := os.Chtimes(filepath.Join(dir, name), oldTime, oldTime); err != nil {
				t.Fatal(err)
			}
		}
		return dir
	}
	prior := map[string]any{"path": "motd", "content": "x", "mode": "0600", "id": sha("x")}
	planned := map[string]any{"path": "motd", "content": "y", "mode": "0600", "id": sha("y")}
	for _, tt := range []struct {
		name string
		run  func(t *testing.T, r providers.Resource) error
	}{
		{"create", func(t *testing.T, r providers.Resource) error {
			_, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: planned})
			return err
		}},
		{"update", func(t *testing.T, r providers.Resource) error {
			_, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Update, Prior: prior, Planned: planned})
			return err
		}},
		{"read", func(t *testing.T, r providers.Resource) error {
			_, err := r.Read(t.Context(), providers.ReadRequest{Addr: addr, Prior: prior})
			return err
		}},
		{"delete", func(t *testing.T, r providers.Resource) error {
			_, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Delete, Prior: prior})
			return err
		}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := setup(t)
			if err := tt.run(t, New(dir)); err != nil {
				t.Fatal(err)
			}
			want := slices.Clone(kept)
			if tt.name == "delete" {
				want = want[1:]
			}
			slices.Sort(want)
			es, err := os.ReadDir(dir)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, e := range es {
				got = append(got, e.Name())
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("folder after %s (-want +got):\n%s", tt.name, d)
			}
		})
	}
}
