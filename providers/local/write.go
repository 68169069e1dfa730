package local

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// writeAtomic replaces the file at path with content and mode, creating
// missing folders, through a temporary file beside it (atomicfile):
// readers see the old file or the new one, never a mix; a failure leaves
// the old file in place.
//
// The temporary file allows mode's owner bits at most (less whatever the
// umask removes), so that while it is being written nobody can read what
// the final file would not let them read, and its writer's name lets a
// later run remove it if this one is killed.
func (f *file) writeAtomic(path string, content []byte, mode fs.FileMode) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("create folder for %s: %w", path, err)
	}
	tmp, err := atomicfile.Create(path, mode)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	defer tmp.Cleanup()
	if f.tempCreated != nil {
		f.tempCreated(tmp.Name())
	}
	if _, err := tmp.Write(content); err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	if err := tmp.Replace(); err != nil {
		return fmt.Errorf("write %s with mode %04o: %w", path, uint32(mode), err)
	}
	return nil
}
