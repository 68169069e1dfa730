package nix

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
)

// NixpkgsPin returns a digest of the nixpkgs that evaluation uses, for a
// plan's input digest: apply computes it again and refuses the plan when
// nixpkgs changed in between. path is the absolute path of nixpkgs (as in
// EvalOptions.Nixpkgs); "" means <nixpkgs> from NIX_PATH, resolved the way
// evaluation resolves it (by Nix, with the Nix value's environment, so a
// channel or URL entry gives the store path Nix fetched it to).
//
// Symlinks are resolved first (a channel is a chain of links into the
// store). Then:
//   - nixpkgs inside the Nix store (a channel, fetchTarball, a flake
//     input): the pin is its resolved store path, "/nix/store/<hash>-...";
//     the hash names the content, so nothing is read;
//   - any other folder (a checkout): the pin is "sha256:<hex>" over every
//     file's relative path, kind and content, and every symlink's target,
//     read in parallel; .git folders and symlinks into the Nix store (the
//     result links of nix-build) are left out. The folder's location is
//     not part of it: moving a checkout changes nothing.
//
// A folder is read whole: BenchmarkNixpkgsPinTree (40,000 files, 200 MB)
// takes about 0.6 s on 2 cores of the test machines, close to sha256sum
// over the same files; a nixpkgs checkout costs about that at plan and at
// apply, less than evaluating one NixOS machine. A git revision would be
// cheaper but would miss the uncommitted edits that a nixpkgs checkout is
// used for.
func (n Nix) NixpkgsPin(ctx context.Context, path string) (string, error) {
	if path != "" && !filepath.IsAbs(path) {
		return "", fmt.Errorf("nixpkgs pin: %q is not an absolute path", path)
	}
	expr := `[ builtins.storeDir ]`
	if path == "" {
		expr = `[ builtins.storeDir (toString <nixpkgs>) ]`
	}
	res, err := n.run(ctx, nil, "nix-instantiate", "--eval", "--strict", "--json", "--expr", expr)
	if err != nil {
		if path == "" {
			return "", fmt.Errorf("nixpkgs pin: find <nixpkgs>: %w; set nixpkgs(path = ...) in the configuration or nixpkgs=... in NIX_PATH", err)
		}
		return "", fmt.Errorf("nixpkgs pin: %w", err)
	}
	var got []string
	if err := json.Unmarshal(res.stdout, &got); err != nil || len(got) == 0 {
		return "", fmt.Errorf("nixpkgs pin: unexpected output of nix-instantiate: %q", res.stdout)
	}
	storeDir := got[0]
	if path == "" {
		path = got[1]
	}
	resolved, err := filepath.EvalSymlinks(path)
	if err != nil {
		return "", fmt.Errorf("nixpkgs pin: %w", err)
	}
	if inStore(storeDir, resolved) {
		return resolved, nil
	}
	info, err := os.Stat(resolved)
	if err != nil {
		return "", fmt.Errorf("nixpkgs pin: %w", err)
	}
	if !info.IsDir() {
		// A single file (rare: nixpkgs as one default.nix).
		sum, err := fileDigest(resolved)
		if err != nil {
			return "", fmt.Errorf("nixpkgs pin: %w", err)
		}
		return "sha256:" + sum, nil
	}
	sum, err := treeDigest(ctx, resolved, storeDir)
	if err != nil {
		return "", fmt.Errorf("nixpkgs pin: %w", err)
	}
	return "sha256:" + sum, nil
}

// inStore reports whether p is a store path or inside one.
func inStore(storeDir, p string) bool {
	rest, ok := strings.CutPrefix(p, strings.TrimSuffix(storeDir, "/")+"/")
	return ok && rest != "" && !strings.HasPrefix(rest, ".")
}

// treeEntry is one thing in a digested folder.
type treeEntry struct {
	rel  string // slash-separated, relative to the root
	kind byte   // 'f' file, 'x' executable file, 'l' symlink, 'o' other
	data string // a file's sha256, a symlink's target
}

// treeDigest is the hex sha256 over the sorted entries of root (see
// NixpkgsPin for what is left out). Files are hashed by a few workers.
func treeDigest(ctx context.Context, root, storeDir string) (string, error) {
	var entries []*treeEntry
	err := filepath.WalkDir(root, func(p string, de fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if p == root {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		e := &treeEntry{rel: filepath.ToSlash(rel)}
		switch t := de.Type(); {
		case de.IsDir():
			if de.Name() == ".git" {
				return filepath.SkipDir
			}
			return nil // a folder is in the paths of what it holds
		case t&fs.ModeSymlink != 0:
			target, err := os.Readlink(p)
			if err != nil {
				return err
			}
			if inStore(storeDir, target) {
				return nil // a build result link, not a source
			}
			e.kind, e.data = 'l', target
		case t.IsRegular():
			e.kind = 'f' // 'x' when hashing finds it executable
		default:
			e.kind = 'o'
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return "", err
	}

	jobs := make(chan *treeEntry)
	errs := make(chan error, 1)
	var wg sync.WaitGroup
	for range min(runtime.GOMAXPROCS(0), 8) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			buf := make([]byte, 64<<10)
			for e := range jobs {
				sum, exec, err := hashFile(filepath.Join(root, filepath.FromSlash(e.rel)), buf)
				if err != nil {
					select {
					case errs <- err:
					default:
					}
					continue
				}
				e.data = sum
				if exec {
					e.kind = 'x'
				}
			}
		}()
	}
	for _, e := range entries {
		if e.kind == 'f' {
			jobs <- e
		}
	}
	close(jobs)
	wg.Wait()
	select {
	case err := <-errs:
		return "", err
	default:
	}

	// WalkDir's order (lexical in each folder) is the same for the same
	// tree.
	h := sha256.New()
	for _, e := range entries {
		fmt.Fprintf(h, "%c\x00%s\x00%s\n", e.kind, e.rel, e.data)
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

func fileDigest(p string) (string, error) {
	sum, _, err := hashFile(p, make([]byte, 64<<10))
	return sum, err
}

// hashFile returns the hex sha256 of the file at p and whether it is
// executable, reading it through buf.
func hashFile(p string, buf []byte) (string, bool, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", false, err
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		return "", false, err
	}
	h := sha256.New()
	if _, err := io.CopyBuffer(h, struct{ io.Reader }{f}, buf); err != nil {
		return "", false, err
	}
	return hex.EncodeToString(h.Sum(nil)), info.Mode()&0o111 != 0, nil
}
