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
// comes from NIX_PATH. It may be called once. nixpkgs(flake = "./", input
// = "nixpkgs") takes instead the flake's input as its flake.lock pins it
// (Config.NixpkgsFlake; the flake's files are inputs, see flakeDir).
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
	nixpkgsParams = []param{
		{name: "path", doc: `An existing directory, relative to the calling .star file or "//"-rooted; it may lead outside the configuration directory ("../nixpkgs", an absolute path, a store path). Give path, or flake and input.`},
		{name: "flake", doc: `A flake directory in the configuration ("./"): nixpkgs is its input named input, pinned by its flake.lock.`},
		{name: "input", doc: `The flake input that is nixpkgs (with flake); default "nixpkgs".`},
	}
	nixpkgsDoc = builtinDoc{name: "nixpkgs", params: nixpkgsParams, returns: "None",
		summary: "The nixpkgs source tree the machines are evaluated with: a path, or a flake's locked input; without it, <nixpkgs> comes from NIX_PATH. Part of every plan's input digest. Call it once."}
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
	_, hasPath := a["path"]
	flakeArg, hasFlake := a["flake"]
	input, hasInput := a["input"]
	switch {
	case hasPath && hasFlake:
		p.add("pass either path or flake, not both")
	case !hasPath && !hasFlake && p.empty():
		p.add("pass path (a nixpkgs source tree) or flake and input (an input of a flake, as its flake.lock pins it)")
	case hasInput && !hasFlake:
		p.add("argument \"input\" needs flake: the flake whose input it is")
	}
	if hasFlake && !hasPath {
		in := &spec.FlakeInput{Input: "nixpkgs"}
		if hasInput {
			if s, err := wantString(input); err != nil {
				p.addArg("input", err)
			} else if s == "" {
				p.add("argument \"input\" is empty: name the flake's nixpkgs input, such as \"nixpkgs\"")
			} else {
				in.Input = s
			}
		}
		if s, err := wantString(flakeArg); err != nil {
			p.addArg("flake", err)
		} else if abs, msg := r.flakeDir(pos.File, s); msg != "" {
			p.add("%s", msg)
		} else {
			in.Dir = abs
			r.cfg.NixpkgsFlake = in
		}
	}
	if v, ok := a["path"]; ok && !hasFlake {
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
