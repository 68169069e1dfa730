package statestore

import (
	"context"
	"os"
	"path/filepath"
	"time"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// A ferry run killed with SIGKILL leaves temporary files (file:// only) and
// empty folders behind. Temporary files are named after the process that
// writes them (atomicfile), so that a later run can tell a dead run's file,
// which it removes, from a live run's, which it must not touch.

// tempNames names every temporary file ".tmp-<pid>-<tag>-<random>" in the
// deployment's folder, whatever key it is for; list skips every name
// starting with '.'.
var tempNames = atomicfile.Names{Mark: "tmp-"}

// legacyTempAge is the age at which a temporary file named the way ferry
// named them before they carried a PID (".tmp-<digits>") counts as left
// behind: no write takes that long, and a live writer whose file is
// removed only fails its write (link or rename finds nothing), it never
// publishes a damaged object.
const legacyTempAge = 24 * time.Hour

// sweep removes what dead runs left in the deployment's folder: their
// temporary files and empty folders (a journal folder of a run killed
// before its first record, state/ of one killed before its first
// snapshot). It costs one listing of the deployment's folder and one of
// journal/. It never removes a live run's data: temporary files name their
// writer, rmdir only removes an empty folder, and every writer that
// creates a folder and then a file in it tries again when the folder
// vanished in between. Failures are ignored: the next run tries again.
func (d *dirBackend) sweep(_ context.Context, deployment string) {
	dir := d.path(deployment)
	for _, de := range tempNames.Sweep(dir, atomicfile.Legacy{Age: legacyTempAge}) {
		if !de.IsDir() {
			continue
		}
		p := filepath.Join(dir, de.Name())
		if de.Name()+"/" == journalDir {
			removeEmptyFolders(p)
		}
		_ = os.Remove(p) // fails unless empty
	}
}

// removeEmptyFolders removes the empty folders in dir.
func removeEmptyFolders(dir string) {
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	for _, de := range des {
		if de.IsDir() {
			_ = os.Remove(filepath.Join(dir, de.Name())) // fails unless empty
		}
	}
}
