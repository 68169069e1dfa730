package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// writeAtomic replaces the file at path with content and mode: it writes a
// temporary file in the same folder (creating missing folders), syncs it,
// sets the mode and renames it over path. Readers see the old file or the
// new one, never a mix; a failure leaves the old file in place.
//
// The temporary file is created with mode's permissions less group and
// other bits (and whatever the umask removes), so that while it is being
// written nobody can read what the final file would not let them read,
// and its writer's name (leftovers.go) lets a later run remove it if this
// one is killed.
func (f *file) writeAtomic(path string, content []byte, mode fs.FileMode) error {
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := f.writer.createTemp(path, mode.Perm()&0o600)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done := false
	defer func() {
		if !done {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	if f.tempCreated != nil {
		f.tempCreated(tmp.Name())
	}
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	// Chmod is not subject to the umask, so the mode is exactly as asked.
	if err := tmp.Chmod(mode); err != nil {
		return fmt.Errorf("set mode %04o on %s: %w", uint32(mode), path, err)
	}
	if err := tmp.Sync(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	done = true
	return nil
}
