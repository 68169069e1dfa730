//go:build unix

package atomicfile

import (
	"os"
	"path/filepath"
	"syscall"
	"testing"
)

// TestCreateTempNoWiderThanAsked: the temporary file allows its owner's
// bits of perm at most (umask 0, so the modes are the package's own).
func TestCreateTempNoWiderThanAsked(t *testing.T) {
	old := syscall.Umask(0)
	defer syscall.Umask(old)
	dir := t.TempDir()
	for _, perm := range []os.FileMode{0o600, 0o644, 0o755, 0o400, 0o444, 0o640, 0o000, 0o666} {
		f, err := DefaultNames.CreateTemp(dir, "f", perm)
		if err != nil {
			t.Fatal(err)
		}
		f.Close()
		info, err := os.Stat(f.Name())
		if err != nil {
			t.Fatal(err)
		}
		if got, want := info.Mode().Perm(), perm&0o600; got != want {
			t.Errorf("CreateTemp(%04o) made mode %04o, want %04o", perm, got, want)
		}
		if w, ok := DefaultNames.writerOf(filepath.Base(f.Name())); !ok || w != Self() {
			t.Errorf("CreateTemp named %s, want a name of this process", f.Name())
		}
	}
}

// TestWriteFile: the file ends up with the content and exactly the mode
// asked, also over a file of another mode, and nothing else is left.
func TestWriteFile(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, tt := range []struct {
		name  string
		prior os.FileMode // 0: none
		perm  os.FileMode
	}{
		{"new", 0, 0o600},
		{"over a wider file", 0o644, 0o600},
		{"over a narrower file", 0o600, 0o664}, // wider than the umask allows
		{"read-only", 0o644, 0o400},
	} {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			path := filepath.Join(dir, "plan.json")
			if tt.prior != 0 {
				if err := os.WriteFile(path, []byte("old content"), tt.prior); err != nil {
					t.Fatal(err)
				}
			}
			if err := WriteFile(path, []byte("new"), tt.perm); err != nil {
				t.Fatal(err)
			}
			data, err := os.ReadFile(path)
			if err != nil || string(data) != "new" {
				t.Errorf("content %q, %v; want \"new\"", data, err)
			}
			info, err := os.Stat(path)
			if err != nil {
				t.Fatal(err)
			}
			if info.Mode().Perm() != tt.perm {
				t.Errorf("mode %04o, want %04o", info.Mode().Perm(), tt.perm)
			}
			if es, _ := os.ReadDir(dir); len(es) != 1 {
				t.Errorf("the folder holds %d entries, want only the file", len(es))
			}
		})
	}
}

// TestWriteFileFailureKeepsOld: a write that fails leaves what was at the
// path and no temporary file.
func TestWriteFileFailureKeepsOld(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "target")
	if err := os.MkdirAll(filepath.Join(path, "inside"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := WriteFile(path, []byte("x"), 0o600); err == nil {
		t.Fatal("WriteFile over a folder succeeded")
	}
	if info, err := os.Stat(filepath.Join(path, "inside")); err != nil || !info.IsDir() {
		t.Errorf("the folder at the path is gone: %v", err)
	}
	if es, _ := os.ReadDir(dir); len(es) != 1 {
		t.Errorf("the folder holds %d entries after a failed write, want only the target", len(es))
	}
	if err := WriteFile(filepath.Join(dir, "missing", "f"), []byte("x"), 0o600); err == nil {
		t.Error("WriteFile into a missing folder succeeded")
	}
}

func TestSyncDir(t *testing.T) {
	if err := SyncDir(t.TempDir()); err != nil {
		t.Errorf("SyncDir of a folder: %v", err)
	}
	if err := SyncDir(filepath.Join(t.TempDir(), "missing")); err == nil {
		t.Error("SyncDir of a missing folder succeeded")
	}
}
