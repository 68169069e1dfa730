package local

import (
	"path/filepath"
	"time"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// A ferry killed while it writes a file leaves its temporary file beside
// the target. Temporary files are named after the process that writes
// them, ".NAME.ferry-<pid>-<tag>-<random>" (atomicfile.DefaultNames), so
// that a later run removes a dead run's and never touches a live run's.

// legacyTempAge is the age at which a temporary file of the target named
// the way ferry named them before they carried a PID (".NAME.ferry-<digits>")
// counts as left behind: no write takes that long, and a live writer whose
// file is removed only fails its rename.
const legacyTempAge = 24 * time.Hour

// sweep removes, best effort, the temporary files that dead runs left in
// path's folder (one listing): any target's of writers of this host and
// scope, and path's own in the older form. A missing folder has none.
func sweep(path string) {
	atomicfile.Sweep(filepath.Dir(path), atomicfile.Legacy{Target: filepath.Base(path), Age: legacyTempAge})
}
