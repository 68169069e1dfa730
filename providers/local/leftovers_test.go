//go:build unix

package local

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
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
	if processScope() == "" {
		t.Fatal("processScope is empty: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	me := thisWriter()
	dead := writerID{pid: deadPID(t), tag: me.tag}
	live := writerID{pid: os.Getpid(), tag: me.tag}
	otherScope := writerID{pid: dead.pid, tag: writerTag("elsewhere", processScope())}
	noScope := writerID{pid: dead.pid}
	removed := []string{
		dead.tempName("motd", "a1b2c3"),
		dead.tempName("other.conf", "a1b2c3"), // another file's, same folder
		".motd.ferry-123456789",               // an older ferry's, two days old
	}
	kept := []string{
		"motd", // the target, when there is one
		live.tempName("motd", "a1b2c3"),
		otherScope.tempName("motd", "a1b2c3"),
		noScope.tempName("motd", "a1b2c3"),
		".motd.ferry-987654321",      // an older ferry's, fresh: maybe still writing
		".other.conf.ferry-12345678", // an older ferry's, two days old, of a file this resource does not own
		".motd.ferry-notes",          // the user's
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
