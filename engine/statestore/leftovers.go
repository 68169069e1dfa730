package statestore

import (
	"context"
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

// A ferry run killed with SIGKILL leaves temporary files (file:// only) and
// empty folders behind. Temporary files are named after the process that
// writes them, so that a later run can tell a dead run's file, which it
// removes, from a live run's, which it must not touch.

// tempPrefix starts the name of every temporary file; list skips every
// name starting with '.'.
const tempPrefix = ".tmp-"

// legacyTempAge is the age at which a temporary file named the way ferry
// named them before they carried a PID (".tmp-<digits>") counts as left
// behind: no write takes that long, and a live writer whose file is
// removed only fails its write (link or rename finds nothing), it never
// publishes a damaged object.
const legacyTempAge = 24 * time.Hour

// writerID names a process in temporary files: its PID and a tag of its
// host and process scope (boot and PID namespace, see processScope). The
// tag is "" where the scope cannot be known; such files are never judged.
type writerID struct {
	pid int
	tag string
}

func thisWriter() writerID {
	host, _ := os.Hostname()
	return writerID{pid: os.Getpid(), tag: writerTag(host, processScope())}
}

// writerTag is a short digest of host and scope: a PID means something
// only on one host, in one boot and PID namespace.
func writerTag(host, scope string) string {
	if host == "" || scope == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(host + "\x00" + scope))
	return hex.EncodeToString(sum[:8])
}

// tempName is ".tmp-<pid>-<tag>-<random>"; an unknown tag is written as
// "x", which no sweeper's tag equals.
func (w writerID) tempName(random string) string {
	tag := w.tag
	if tag == "" {
		tag = "x"
	}
	return fmt.Sprintf("%s%d-%s-%s", tempPrefix, w.pid, tag, random)
}

// createTemp creates a new temporary file in dir, private to its owner.
func (w writerID) createTemp(dir string) (*os.File, error) {
	for range 100 {
		var b [6]byte
		_, _ = rand.Read(b[:])
		f, err := os.OpenFile(filepath.Join(dir, w.tempName(hex.EncodeToString(b[:]))), os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
		if !errors.Is(err, fs.ErrExist) {
			return f, err
		}
	}
	return nil, fmt.Errorf("create a temporary file in %s: every name tried exists", dir)
}

// parseTempName returns the writer of a file that tempName named.
func parseTempName(name string) (writerID, bool) {
	rest, ok := strings.CutPrefix(name, tempPrefix)
	parts := strings.SplitN(rest, "-", 3)
	if !ok || len(parts) != 3 {
		return writerID{}, false
	}
	pid, err := strconv.Atoi(parts[0])
	if err != nil || pid <= 0 {
		return writerID{}, false
	}
	return writerID{pid: pid, tag: parts[1]}, true
}

// leftBehind says whether the temporary file name belongs to a run that
// is gone: a process of w's host and scope whose PID no longer exists (a
// reused PID keeps the file until that process ends too), or, for a
// name without a writer, one that has not changed for legacyTempAge.
// modTime is called only for the latter.
func (w writerID) leftBehind(name string, modTime func() (time.Time, error), now time.Time) bool {
	if o, ok := parseTempName(name); ok {
		return w.tag != "" && o.tag == w.tag && o.pid != w.pid && !processAlive(o.pid)
	}
	digits, ok := strings.CutPrefix(name, tempPrefix)
	if !ok || digits == "" || len(digits) > 10 || strings.Trim(digits, "0123456789") != "" {
		return false
	}
	mod, err := modTime()
	return err == nil && now.Sub(mod) > legacyTempAge
}

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
	des, err := os.ReadDir(dir)
	if err != nil {
		return
	}
	now := time.Now()
	for _, de := range des {
		p := filepath.Join(dir, de.Name())
		switch {
		case de.IsDir():
			if de.Name()+"/" == journalDir {
				removeEmptyFolders(p)
			}
			_ = os.Remove(p) // fails unless empty
		case d.writer.leftBehind(de.Name(), func() (time.Time, error) {
			info, err := de.Info()
			if err != nil {
				return time.Time{}, err
			}
			return info.ModTime(), nil
		}, now):
			_ = os.Remove(p)
		}
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
