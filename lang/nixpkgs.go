package lang

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// nixpkgsBuiltins provides nixpkgs(path), the nixpkgs source tree the
// machines are evaluated with (Config.Nixpkgs); without it, <nixpkgs>
// comes from NIX_PATH. It may be called once.
//
// The path is relative to the calling .star file, or "//"-rooted at the
// configuration directory, as for load(); unlike modules, it may lead
// outside the configuration directory ("../nixpkgs", an absolute path, a
// symbolic link into the Nix store), because nixpkgs checkouts commonly
// live beside the configuration. It must be an existing directory. lang
// records no digest of it: nixpkgs is large, and the engine digests it.
func nixpkgsBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"nixpkgs": starlark.NewBuiltin("nixpkgs", nixpkgs)}, nil
}

var (
	nixpkgsParams = []param{{name: "path", required: true, doc: `An existing directory, relative to the calling .star file or "//"-rooted; it may lead outside the configuration directory ("../nixpkgs", an absolute path, a store path).`}}
	nixpkgsDoc    = builtinDoc{name: "nixpkgs", params: nixpkgsParams, returns: "None",
		summary: "The nixpkgs source tree the machines are evaluated with; without it, <nixpkgs> comes from NIX_PATH. Part of every plan's input digest. Call it once."}
)

func nixpkgs(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	if r.nixpkgsSeen {
		return starlark.None, r.report(r.callerError(thread,
			"nixpkgs() is called a second time; the first call is at %s: call it once", r.nixpkgsPos))
	}
	r.nixpkgsSeen, r.nixpkgsPos = true, pos
	p := &callProblems{fn: "nixpkgs"}
	a := unpack(p, nixpkgsParams, args, kwargs)
	if v, ok := a["path"]; ok {
		if arg, err := wantString(v); err != nil {
			p.addArg("path", err)
		} else if abs, msg := r.nixpkgsPath(pos, arg); msg != "" {
			p.add("%s", msg)
		} else {
			r.cfg.Nixpkgs = abs
		}
	}
	return starlark.None, p.report(r, thread)
}

// nixpkgsPath resolves the argument of nixpkgs() called at pos into an
// absolute path, or says what is wrong with it.
func (r *run) nixpkgsPath(pos spec.Pos, arg string) (string, string) {
	var abs string
	switch {
	case arg == "":
		return "", "path is empty: pass the nixpkgs source tree, such as \"./nixpkgs\", or leave nixpkgs() out to use <nixpkgs> from NIX_PATH"
	case strings.HasPrefix(arg, "//"):
		abs = filepath.Join(r.opts.Dir, filepath.FromSlash(arg[2:]))
	case filepath.IsAbs(arg):
		abs = filepath.Clean(arg)
	default:
		abs = filepath.Join(r.opts.Dir, filepath.FromSlash(path.Dir(pos.File)), filepath.FromSlash(arg))
	}
	info, err := os.Stat(abs)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return "", fmt.Sprintf("%s: no such directory (looked for %s)", arg, abs)
	case err != nil:
		return "", fmt.Sprintf("%s: %v", arg, pathErr(err))
	case !info.IsDir():
		return "", fmt.Sprintf("%s: is not a directory: pass the nixpkgs source tree (the directory holding default.nix and nixos/)", arg)
	}
	return abs, ""
}
