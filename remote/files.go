package remote

import (
	"archive/tar"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
)

// Copying files, as scp does, over a Conn: a file is streamed through cat,
// a directory as a tar archive (tar on the host, archive/tar here). Like
// scp, a destination that is an existing directory receives the source
// under its own name; otherwise the destination is the copy. Modes are
// kept (file permission bits); owners and times are not. Symbolic links
// inside a copied directory are copied as links. Nothing beyond a POSIX
// shell, cat, stat, mkdir and tar is needed on the host (all in NixOS).

// remoteKind says what a host path is: "dir", "file MODE" or "none".
func (c *Conn) remoteKind(ctx context.Context, p string) (kind string, mode fs.FileMode, err error) {
	q := Quote(p)
	out, err := c.Output(ctx, "if [ -d "+q+" ]; then echo dir; elif [ -e "+q+" ]; then echo file $(stat -L -c %a "+q+"); else echo none; fi")
	if err != nil {
		return "", 0, err
	}
	f := strings.Fields(out)
	if len(f) == 0 {
		return "", 0, fmt.Errorf("stat %s on %s: no answer", p, c.target.Name())
	}
	if f[0] == "file" && len(f) == 2 {
		m, err := strconv.ParseUint(f[1], 8, 32)
		if err != nil {
			return "", 0, fmt.Errorf("stat %s on %s: mode %q", p, c.target.Name(), f[1])
		}
		mode = fs.FileMode(m)
	}
	return f[0], mode, nil
}

// Upload copies the local file or directory src to dst on the host; a
// directory needs recursive.
func (c *Conn) Upload(ctx context.Context, src, dst string, recursive bool) error {
	st, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("upload: %w", err)
	}
	if st.IsDir() && !recursive {
		return fmt.Errorf("upload %s: it is a directory: pass -r to copy it with its contents", src)
	}
	kind, _, err := c.remoteKind(ctx, dst)
	if err != nil {
		return err
	}
	target := dst
	if kind == "dir" {
		target = path.Join(dst, filepath.Base(filepath.Clean(src)))
	}
	if !st.IsDir() {
		f, err := os.Open(src)
		if err != nil {
			return fmt.Errorf("upload: %w", err)
		}
		defer f.Close()
		q := Quote(target)
		cmd := fmt.Sprintf("cat > %s && chmod %o %s", q, st.Mode().Perm(), q)
		if err := c.Run(ctx, cmd, RunOptions{Stdin: f}); err != nil {
			return fmt.Errorf("upload %s to %s on %s: %w", src, target, c.target.Name(), err)
		}
		return nil
	}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(writeTar(pw, src)) }()
	q := Quote(target)
	err = c.Run(ctx, fmt.Sprintf("mkdir -p %s && tar -x -f - -C %s", q, q), RunOptions{Stdin: pr})
	pr.CloseWithError(errors.New("upload ended"))
	if err != nil {
		return fmt.Errorf("upload %s to %s on %s: %w", src, target, c.target.Name(), err)
	}
	return nil
}

// Download copies src on the host to the local dst; a directory needs
// recursive.
func (c *Conn) Download(ctx context.Context, src, dst string, recursive bool) error {
	kind, mode, err := c.remoteKind(ctx, src)
	if err != nil {
		return err
	}
	switch {
	case kind == "none":
		return fmt.Errorf("download %s from %s: no such file or directory", src, c.target.Name())
	case kind == "dir" && !recursive:
		return fmt.Errorf("download %s from %s: it is a directory: pass -r to copy it with its contents", src, c.target.Name())
	}
	target := dst
	if st, err := os.Stat(dst); err == nil && st.IsDir() {
		target = filepath.Join(dst, path.Base(path.Clean(src)))
	}
	if kind != "dir" {
		tmp, err := os.CreateTemp(filepath.Dir(target), ".ferry-scp-*")
		if err != nil {
			return fmt.Errorf("download: %w", err)
		}
		defer os.Remove(tmp.Name())
		err = c.Run(ctx, "cat "+Quote(src), RunOptions{Stdout: tmp})
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err == nil {
			err = os.Chmod(tmp.Name(), mode.Perm())
		}
		if err == nil {
			err = os.Rename(tmp.Name(), target)
		}
		if err != nil {
			return fmt.Errorf("download %s from %s to %s: %w", src, c.target.Name(), target, err)
		}
		return nil
	}
	if err := os.MkdirAll(target, 0o755); err != nil {
		return fmt.Errorf("download: %w", err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		err := readTar(pr, target)
		if err == nil {
			_, err = io.Copy(io.Discard, pr) // tar pads its output to a whole record
		}
		pr.CloseWithError(errors.New("download ended")) // unblock the writer on an error
		done <- err
	}()
	err = c.Run(ctx, "tar -c -f - -C "+Quote(src)+" .", RunOptions{Stdout: pw})
	pw.Close()
	if terr := <-done; err == nil {
		err = terr
	}
	if err != nil {
		return fmt.Errorf("download %s from %s to %s: %w", src, c.target.Name(), target, err)
	}
	return nil
}

// writeTar writes the tree at root as a tar archive of paths relative to
// it.
func writeTar(w io.Writer, root string) error {
	tw := tar.NewWriter(w)
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil || rel == "." {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		link := ""
		if info.Mode()&fs.ModeSymlink != 0 {
			if link, err = os.Readlink(p); err != nil {
				return err
			}
		}
		h, err := tar.FileInfoHeader(info, link)
		if err != nil {
			return err
		}
		h.Name = filepath.ToSlash(rel)
		if d.IsDir() {
			h.Name += "/"
		}
		h.Uid, h.Gid, h.Uname, h.Gname = 0, 0, "", ""
		if err := tw.WriteHeader(h); err != nil {
			return err
		}
		if !info.Mode().IsRegular() {
			return nil
		}
		f, err := os.Open(p)
		if err != nil {
			return err
		}
		defer f.Close()
		_, err = io.Copy(tw, f)
		return err
	})
	if err != nil {
		return err
	}
	return tw.Close()
}

// readTar unpacks a tar archive into root. Entries may not leave root,
// and links are made after every file so that no file is written through
// one.
func readTar(r io.Reader, root string) error {
	tr := tar.NewReader(r)
	type link struct{ name, target string }
	var links []link
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		name := path.Clean(h.Name)
		if name == "." {
			continue
		}
		if path.IsAbs(name) || name == ".." || strings.HasPrefix(name, "../") {
			return fmt.Errorf("archive entry %q leaves the destination", h.Name)
		}
		p := filepath.Join(root, filepath.FromSlash(name))
		switch h.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(p, fs.FileMode(h.Mode).Perm()|0o700); err != nil {
				return err
			}
		case tar.TypeReg:
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				return err
			}
			f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, fs.FileMode(h.Mode).Perm())
			if err != nil {
				return err
			}
			_, err = io.Copy(f, tr)
			if cerr := f.Close(); err == nil {
				err = cerr
			}
			if err != nil {
				return err
			}
		case tar.TypeSymlink:
			links = append(links, link{p, h.Linkname})
		}
	}
	for _, l := range links {
		if err := os.Symlink(l.target, l.name); err != nil {
			return err
		}
	}
	return nil
}
