package statestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// dirBackend stores objects as files under root (the file:// scheme).
// gocloud's fileblob checks IfNotExist with a stat before a rename, which
// two processes can both pass; here "create if absent" is a hard link,
// which the kernel refuses when the name exists.
type dirBackend struct {
	root string
	// link is os.Link; tests replace it to exercise the fallback for
	// filesystems without hard links.
	link func(oldname, newname string) error
}

// Modes of everything the file:// backend writes: state holds resource
// attributes and digests of secrets, so only its owner may read it.
const (
	fileMode fs.FileMode = 0o600
	dirMode  fs.FileMode = 0o700
)

func newDirBackend(root string) *dirBackend {
	return &dirBackend{root: root, link: os.Link}
}

func (d *dirBackend) path(key string) string {
	return filepath.Join(d.root, filepath.FromSlash(key))
}

func notExist(err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return errNotFound
	}
	return err
}

func (d *dirBackend) get(_ context.Context, key string) ([]byte, error) {
	data, err := os.ReadFile(d.path(key))
	return data, notExist(err)
}

func (d *dirBackend) getPrefix(_ context.Context, key string, n int) ([]byte, error) {
	f, err := os.Open(d.path(key))
	if err != nil {
		return nil, notExist(err)
	}
	defer f.Close()
	buf := make([]byte, n)
	m, err := io.ReadFull(f, buf)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return buf[:m], nil
}

func (d *dirBackend) exists(_ context.Context, key string) (bool, error) {
	_, err := os.Stat(d.path(key))
	if err == nil {
		return true, nil
	}
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	return false, err
}

// writeTemp writes data to a new temporary file for key. Every temporary
// file of a deployment lives in the deployment's folder, whatever folder
// key is in, so that one listing finds what a killed run left (see
// sweep); it is named after this process (tempNames).
func (d *dirBackend) writeTemp(key string, data []byte, durable bool) (string, error) {
	dir := d.tempDir(key)
	var f *os.File
	var err error
	// A concurrent remove may prune dir between MkdirAll and the create.
	for range 5 {
		if err = os.MkdirAll(dir, dirMode); err != nil {
			return "", err
		}
		if f, err = tempNames.CreateTemp(dir, "", fileMode); !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if err != nil {
		return "", err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(f.Name())
		return "", err
	}
	return f.Name(), nil
}

// tempDir is the folder of key's deployment (the first element of key).
func (d *dirBackend) tempDir(key string) string {
	first, _, ok := strings.Cut(key, "/")
	if !ok {
		return d.root
	}
	return d.path(first)
}

// place gives the temporary file tmp the name p with op (link or rename),
// creating p's folder. A concurrent remove may prune that folder between
// MkdirAll and op: then it tries again.
func place(op func(oldname, newname string) error, tmp, p string) error {
	var err error
	for range 5 {
		if err = os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return err
		}
		if err = op(tmp, p); !errors.Is(err, fs.ErrNotExist) || !fileExists(tmp) {
			return err
		}
	}
	return err
}

func (d *dirBackend) create(_ context.Context, key string, data []byte, durable bool) error {
	p := d.path(key)
	tmp, err := d.writeTemp(key, data, durable)
	if err != nil {
		return err
	}
	err = place(d.link, tmp, p)
	_ = os.Remove(tmp)
	switch {
	case err == nil:
	case errors.Is(err, fs.ErrExist):
		return errExists
	case errors.Is(err, fs.ErrPermission) || errors.Is(err, errors.ErrUnsupported):
		// No hard links here (some FUSE, SMB or FAT mounts): an exclusive
		// create is still exclusive, but a reader may see a partial file.
		if err := createExclusive(p, data, durable); err != nil {
			return err
		}
	default:
		return err
	}
	if durable {
		// The name must survive too: sync the folders up to root, which
		// MkdirAll may just have created.
		for dir := filepath.Dir(p); ; dir = filepath.Dir(dir) {
			if err := atomicfile.SyncDir(dir); err != nil {
				return err
			}
			if dir == d.root || len(dir) <= len(d.root) {
				break
			}
		}
	}
	return nil
}

func createExclusive(p string, data []byte, durable bool) error {
	if err := os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
		return err
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, fileMode)
	if errors.Is(err, fs.ErrExist) {
		return errExists
	}
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil && durable {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(p)
	}
	return err
}

func (d *dirBackend) put(_ context.Context, key string, data []byte) error {
	p := d.path(key)
	tmp, err := d.writeTemp(key, data, false)
	if err != nil {
		return err
	}
	if err := place(os.Rename, tmp, p); err != nil {
		_ = os.Remove(tmp)
		return err
	}
	return nil
}

func (d *dirBackend) remove(_ context.Context, key string) error {
	p := d.path(key)
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return err
	}
	d.prune(p)
	return nil
}

func (d *dirBackend) removeAll(_ context.Context, dir string) error {
	p := d.path(dir)
	if err := os.RemoveAll(p); err != nil {
		return err
	}
	d.prune(p)
	return nil
}

// prune removes the folders above p that are now empty, up to root, so
// that folders exist exactly when a bucket would list their prefix.
func (d *dirBackend) prune(p string) {
	for dir := filepath.Dir(p); len(dir) > len(d.root) && strings.HasPrefix(dir, d.root); dir = filepath.Dir(dir) {
		if os.Remove(dir) != nil {
			return
		}
	}
}

func (d *dirBackend) list(_ context.Context, dir string) ([]entry, error) {
	des, err := os.ReadDir(d.path(dir))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	out := make([]entry, 0, len(des))
	for _, de := range des {
		if strings.HasPrefix(de.Name(), ".") {
			continue
		}
		e := entry{name: de.Name(), dir: de.IsDir()}
		if !e.dir {
			info, err := de.Info()
			if errors.Is(err, fs.ErrNotExist) {
				continue // removed since ReadDir
			}
			if err != nil {
				return nil, err
			}
			e.size, e.modTime = info.Size(), info.ModTime()
		}
		out = append(out, e)
	}
	return out, nil
}

func (d *dirBackend) probe(context.Context) error {
	info, err := os.Stat(d.root)
	if errors.Is(err, fs.ErrNotExist) {
		return nil // created on first write
	}
	if err != nil {
		return err
	}
	if !info.IsDir() {
		return fmt.Errorf("%s is not a directory", d.root)
	}
	return nil
}

func (d *dirBackend) objectURL(key string) string {
	return "file://" + filepath.ToSlash(d.path(key))
}

func (d *dirBackend) mutexDir() string { return d.root }
func (d *dirBackend) close() error     { return nil }

// dirLog is a journal segment on file:// that receives many records, one
// write(2) each: creating a file per group commit costs 0.05 to 1 ms of
// inode creation (measured here), more than the whole rest of an apply's
// bookkeeping, while an append costs microseconds.
type dirLog struct {
	f    *os.File
	size int64
}

// createLog creates key, which must not exist (errExists), for appends.
func (d *dirBackend) createLog(key string) (*dirLog, error) {
	p := d.path(key)
	var f *os.File
	var err error
	// sweep may remove the empty folder between MkdirAll and the create.
	for range 5 {
		if err = os.MkdirAll(filepath.Dir(p), dirMode); err != nil {
			return nil, err
		}
		f, err = os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, fileMode)
		if !errors.Is(err, fs.ErrNotExist) {
			break
		}
	}
	if errors.Is(err, fs.ErrExist) {
		return nil, errExists
	}
	if err != nil {
		return nil, err
	}
	return &dirLog{f: f}, nil
}

// append writes one record. A failed write is cut off again, so that the
// next record does not land after half of this one.
func (l *dirLog) append(data []byte) error {
	n, err := l.f.Write(data)
	if err != nil {
		if terr := l.f.Truncate(l.size); terr != nil {
			return fmt.Errorf("%w (and cutting off the partial record failed: %v)", err, terr)
		}
		return err
	}
	l.size += int64(n)
	return nil
}

func (l *dirLog) close() error { return l.f.Close() }
