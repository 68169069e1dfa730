package lang

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"path/filepath"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// flakeDir resolves the folder of a flake named in a .star file (from,
// relative to Dir): "./", ".", "//infra", "../nixos", always inside the
// configuration directory, so that its files are inputs of the plan. It
// records the digests of flake.nix, flake.lock and the other *.nix files
// beside them (the modules a flake.nix commonly imports), so a changed lock
// or configuration makes apply refuse the plan. It returns the absolute
// folder or a message saying what is wrong.
func (r *run) flakeDir(from, arg string) (string, string) {
	var rel string
	switch {
	case arg == "//":
		rel = "."
	case arg == "" || arg == "." || arg == "./":
		rel = path.Dir(from)
	case strings.HasPrefix(arg, "/") && !strings.HasPrefix(arg, "//"):
		return "", fmt.Sprintf("flake %q: absolute paths are not allowed: keep the flake inside the configuration directory and write \"//path\" or \"./path\"", arg)
	default:
		p := path.Join(path.Dir(from), arg)
		if after, ok := strings.CutPrefix(arg, "//"); ok {
			p = after
		}
		p = path.Clean(p)
		if p == ".." || strings.HasPrefix(p, "../") {
			return "", fmt.Sprintf("flake %q: leads outside the configuration directory: keep ferry.star beside or above flake.nix", arg)
		}
		rel = p
	}
	nixFile := path.Join(rel, "flake.nix")
	if err := r.hashInput(nixFile); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Sprintf("flake %q: no flake.nix in %s", arg, filepath.Join(r.opts.Dir, filepath.FromSlash(rel)))
		}
		return "", fmt.Sprintf("flake %q: %v", arg, pathErr(err))
	}
	if err := r.hashInput(path.Join(rel, "flake.lock")); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return "", fmt.Sprintf("flake %q: no flake.lock beside flake.nix: run `nix flake lock` there; ferry evaluates the inputs the lock pins (path: inputs need no network)", arg)
		}
		return "", fmt.Sprintf("flake %q: %v", arg, pathErr(err))
	}
	r.hashNixSiblings(rel)
	return filepath.Join(r.opts.Dir, filepath.FromSlash(rel)), ""
}

// machineFlake parses machine(flake = "DIR#NAME") called from the file
// from: the machine is DIR's nixosConfigurations.NAME.
func (r *run) machineFlake(from, arg string) (*spec.Flake, string) {
	dir, attr, ok := strings.Cut(arg, "#")
	attr = strings.TrimPrefix(attr, "nixosConfigurations.")
	if !ok || attr == "" || strings.ContainsAny(attr, "#\"") {
		return nil, fmt.Sprintf("flake %q: write the flake's folder and the nixosConfigurations attribute, such as \".#web\"", arg)
	}
	abs, msg := r.flakeDir(from, dir)
	if msg != "" {
		return nil, msg
	}
	return &spec.Flake{Dir: abs, Attr: attr}, ""
}
