package atomicfile

import (
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
)

// Pending is a temporary file that takes a path's place when Replace is
// called (renameio's PendingFile). Create it, Write to it, Replace, and
// defer Cleanup for the paths that fail.
type Pending struct {
	f    *os.File
	path string
	perm fs.FileMode
	done bool
}

// Create starts replacing path: a new temporary file beside it
// (DefaultNames), private to its owner and allowing nothing perm does not
// until Replace sets perm. path's folder must exist.
func Create(path string, perm fs.FileMode) (*Pending, error) {
	f, err := DefaultNames.CreateTemp(filepath.Dir(path), filepath.Base(path), perm)
	if err != nil {
		return nil, err
	}
	return &Pending{f: f, path: path, perm: perm}, nil
}

// Name is the temporary file's path.
func (p *Pending) Name() string { return p.f.Name() }

// Write writes to the temporary file.
func (p *Pending) Write(b []byte) (int, error) { return p.f.Write(b) }

// Replace sets the mode to perm (chmod is not subject to the umask, so it
// is exactly perm), syncs the file, renames it over path and syncs the
// folder, so that the new file survives a crash. Readers see the old file
// or the new one, never a mix; a failure before the rename leaves the old
// file in place.
func (p *Pending) Replace() error {
	if err := p.f.Chmod(p.perm); err != nil {
		return err
	}
	if err := p.f.Sync(); err != nil {
		return err
	}
	if err := p.f.Close(); err != nil {
		return err
	}
	if err := os.Rename(p.f.Name(), p.path); err != nil {
		return err
	}
	p.done = true
	return SyncDir(filepath.Dir(p.path))
}

// Cleanup closes and removes the temporary file unless Replace renamed it.
func (p *Pending) Cleanup() {
	if !p.done {
		_ = p.f.Close()
		_ = os.Remove(p.f.Name())
	}
}

// WriteFile replaces path with data and mode perm atomically (see
// Pending). Unlike os.WriteFile, the mode is perm even when path existed
// with another.
func WriteFile(path string, data []byte, perm fs.FileMode) error {
	p, err := Create(path, perm)
	if err != nil {
		return err
	}
	defer p.Cleanup()
	if _, err := p.Write(data); err != nil {
		return err
	}
	return p.Replace()
}

// SyncDir makes the names created, renamed or linked in dir durable
// (fsync of the folder). Windows cannot sync a folder: there it does
// nothing, and names are as durable as the filesystem makes them.
func SyncDir(dir string) error {
	if runtime.GOOS == "windows" {
		return nil
	}
	f, err := os.Open(dir)
	if err != nil {
		return err
	}
	err = f.Sync()
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return err
}
