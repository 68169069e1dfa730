package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Legacy describes the temporary files of one target that ferry wrote
// before their names carried a writer: "." + Target + Mark + <digits>.
// Sweep removes them once unchanged for Age: no write takes that long, and
// a live writer whose file is removed only fails its rename or link, it
// never publishes a damaged file. A zero Age removes none.
type Legacy struct {
	Target string
	Age    time.Duration
}

// Sweep removes from dir, best effort, the temporary files (any target's)
// whose writer is a process of this host and scope that no longer exists,
// and legacy's, with one listing. It returns dir's other entries, for a
// caller with more to tidy, or nil when dir cannot be listed. It never
// removes a live process's file, nor one whose writer's scope is unknown.
func (n Names) Sweep(dir string, legacy Legacy) []fs.DirEntry {
	des, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	me, now := Self(), time.Now()
	kept := des[:0]
	for _, de := range des {
		modTime := func() (time.Time, error) {
			info, err := de.Info()
			if err != nil {
				return time.Time{}, err
			}
			return info.ModTime(), nil
		}
		if !de.IsDir() && n.leftBehind(me, de.Name(), legacy, modTime, now) && os.Remove(filepath.Join(dir, de.Name())) == nil {
			continue
		}
		kept = append(kept, de)
	}
	return kept
}

// Sweep is DefaultNames.Sweep.
func Sweep(dir string, legacy Legacy) []fs.DirEntry { return DefaultNames.Sweep(dir, legacy) }

// leftBehind says whether the file name, as seen by me, is a temporary
// file of a process that is gone, or one of legacy's unchanged for its
// Age. modTime is called only for the latter.
func (n Names) leftBehind(me Writer, name string, legacy Legacy, modTime func() (time.Time, error), now time.Time) bool {
	if w, ok := n.writerOf(name); ok {
		return me.outlived(w)
	}
	digits, ok := strings.CutPrefix(name, "."+legacy.Target+n.Mark)
	if legacy.Age <= 0 || !ok || len(digits) > 10 || !isDigits(digits) {
		return false
	}
	mod, err := modTime()
	return err == nil && now.Sub(mod) > legacy.Age
}
