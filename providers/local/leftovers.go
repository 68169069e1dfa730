package local

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// A ferry killed while it writes a file leaves its temporary file beside
// the target. Temporary files are named after the process that writes
// them, ".NAME.ferry-<pid>-<tag>-<random>", so that a later run removes a
// dead run's and never touches a live run's.

// tempInfix separates the target's name from the writer in a temporary
// file's name.
const tempInfix = ".ferry-"

// legacyTempAge is the age at which a temporary file of the target named
// the way ferry named them before they carried a PID (".NAME.ferry-<digits>")
// counts as left behind: no write takes that long, and a live writer whose
// file is removed only fails its rename.
const legacyTempAge = 24 * time.Hour

// writerID names a process: its PID and a tag of its host and process
// scope (boot and PID namespace). The tag is "" where the scope cannot be
// known; such files are never judged.
type writerID struct {
	pid int
	tag string
}

func thisWriter() writerID {
	host, _ := os.Hostname()
	return writerID{pid: os.Getpid(), tag: writerTag(host, processScope())}
}

// writerTag is a short digest of host and scope.
func writerTag(host, scope string) string {
	if host == "" || scope == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(host + "\x00" + scope))
	return hex.EncodeToString(sum[:8])
}

// tempName names a temporary file for target (a base name); an unknown
// tag is written as "x", which no sweeper's tag equals.
func (w writerID) tempName(target, random string) string {
	tag := w.tag
	if tag == "" {
		tag = "x"
	}
	return fmt.Sprintf(".%s%s%d-%s-%s", target, tempInfix, w.pid, tag, random)
}

// createTemp creates a new temporary file for path in its folder with
// perm (before the umask).
func (w writerID) createTemp(path string, perm fs.FileMode) (*os.File, error) {
	dir, base := filepath.Split(path)
	for range 100 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, w.tempName(base, hex.EncodeToString(b[:]))), os.O_RDWR|os.O_CREATE|os.O_EXCL, perm)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: every name tried exists", dir)
}

// parseTempName returns the writer of a file that tempName named.
func parseTempName(name string) (writerID, bool) {
	i := strings.LastIndex(name, tempInfix)
	if !strings.HasPrefix(name, ".") || i < 2 {
		return writerID{}, false
	}
	parts := strings.SplitN(name[i+len(tempInfix):], "-", 3)
	if len(parts) != 3 || parts[2] == "" || strings.Trim(parts[2], "0123456789abcdef") != "" {
		return writerID{}, false
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return writerID{}, false
	}
	return writerID{pid: pid, tag: parts[1]}, true
}

// leftBehind says whether name, in the folder of target (a base name), is
// a temporary file of a run that is gone: a process of w's host and scope
// whose PID no longer exists (a reused PID keeps the file until that
// process ends too), or target's temporary file in the form without a
// writer that has not changed for legacyTempAge. modTime is called only
// for the latter.
func (w writerID) leftBehind(target, name string, modTime func() (time.Time, error), now time.Time) bool {
	if o, ok := parseTempName(name); ok {
		return w.tag != "" && o.tag == w.tag && o.pid != w.pid && !processAlive(o.pid)
	}
	digits, ok := strings.CutPrefix(name, "."+target+tempInfix)
	if !ok || digits == "" || len(digits) > 10 || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	mod, err := modTime()
	return err == nil && now.Sub(mod) > legacyTempAge
}

// sweep removes, best effort, the temporary files that dead runs left in
// path's folder (one listing): any target's with this host and scope's
// tag, and path's own in the older form. A missing folder has none.
func (w writerID) sweep(path string) {
	dir, target := filepath.Split(path)
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	now := time.Now()
	for _, de := range des {
		if de.IsDir() || !strings.HasPrefix(de.Name(), ".") {
			continue
		}
		modTime := func() (time.Time, error) {
			info, err := de.Info()
			if err != nil {
				return time.Time{}, err
			}
			return info.ModTime(), nil
		}
		if w.leftBehind(target, de.Name(), modTime, now) {
			_ = os.Remove(filepath.Join(dir, de.Name()))
		}
	}
}
