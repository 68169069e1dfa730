package lang

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/starlarkstruct"

	"github.com/nixferry/ferry/engine/spec"
)

// nixModuleName is the name of the nix module; resource providers may not
// use it as their prefix.
const nixModuleName = "nix"

// nixBuiltins provides the nix module:
//
//   - nix.module(path, args = {}): a NixOS module in a file, path relative
//     to the calling .star file or "//"-rooted at the configuration
//     directory, as for load(). args are extra arguments for that module
//     only and may contain references.
//   - nix.inline(text): a NixOS module written in the configuration.
//
// Modules are values to pass to machine(modules = ...) and
// defaults(modules = ...).
func nixBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{nixModuleName: &starlarkstruct.Module{
		Name: nixModuleName,
		Members: starlark.StringDict{
			"module": starlark.NewBuiltin("nix.module", nixModule),
			"inline": starlark.NewBuiltin("nix.inline", nixInline),
		},
	}}, nil
}

var (
	nixModuleParams = []param{
		{name: "path", required: true, doc: `The module's file, relative to the calling .star file or "//"-rooted at the configuration directory, as for load().`},
		{name: "args", def: "{}", doc: "Extra module arguments for this module only; values may be references (known after apply)."},
	}
	nixInlineParams = []param{{name: "text", required: true, doc: "The module's Nix source."}}
	nixModuleDoc    = builtinDoc{name: "nix.module", params: nixModuleParams, returns: "a module for machine(modules = ...) and defaults(modules = ...)",
		summary: "A NixOS module in a file. Modules receive NixOps' arguments: name, nodes (every machine's evaluated config), resources (resource attributes by address) and their args."}
	nixInlineDoc = builtinDoc{name: "nix.inline", params: nixInlineParams, returns: "a module for machine(modules = ...) and defaults(modules = ...)",
		summary: "A NixOS module written in the configuration."}
)

// nixIdentifier is what a key of args must look like for a Nix module
// function to take it as an argument ({ gitHost, ... }: ...).
var nixIdentifier = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_'-]*$`)

func nixModule(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "nix.module"}
	a := unpack(p, nixModuleParams, args, kwargs)
	pos := r.callerPos(thread, 1)
	mv := &moduleValue{m: spec.Module{Pos: pos}}
	if v, ok := a["path"]; ok {
		if arg, err := wantString(v); err != nil {
			p.addArg("path", err)
		} else if rel, msg := r.nixModulePath(pos.File, arg); msg != "" {
			p.add("%s", msg)
		} else {
			mv.rel = rel
			mv.m.Path = filepath.Join(r.opts.Dir, filepath.FromSlash(rel))
		}
	}
	if v, ok := a["args"]; ok {
		if values, msg := moduleArgs(v); msg != "" {
			p.add("%s", msg)
		} else {
			mv.m.Args = values
		}
	}
	// The module is returned even with problems (they are reported), so
	// that machine(modules = [...]) does not add errors of its own.
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return mv, nil
}

func nixInline(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "nix.inline"}
	a := unpack(p, nixInlineParams, args, kwargs)
	mv := &moduleValue{m: spec.Module{Pos: r.callerPos(thread, 1)}, inline: true}
	if v, ok := a["text"]; ok {
		if text, err := wantString(v); err != nil {
			p.addArg("text", err)
		} else if strings.TrimSpace(text) == "" {
			p.add("text is empty: write a NixOS module such as \"{ services.openssh.enable = true; }\"")
		} else {
			mv.m.Inline = text
		}
	}
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return mv, nil
}

// moduleArgs converts args = {...}: a dict whose keys are Nix identifiers
// and whose values are ferry values (references allowed).
func moduleArgs(v starlark.Value) (map[string]any, string) {
	d, ok := v.(*starlark.Dict)
	if !ok {
		if pv, ok := passedItself(v); ok {
			return nil, "argument \"args\": " + pv
		}
		return nil, fmt.Sprintf("argument \"args\": got %s, want dict", v.Type())
	}
	for _, k := range d.Keys() {
		if s, ok := k.(starlark.String); ok && !strings.HasPrefix(string(s), "$") && !nixIdentifier.MatchString(string(s)) {
			return nil, fmt.Sprintf("argument \"args\": key %q is not a Nix identifier, so a module cannot take it as an argument: use letters, digits, \"_\", \"'\" and \"-\", not starting with a digit", string(s))
		}
	}
	x, err := toValue(d)
	if err != nil {
		return nil, "argument \"args\"" + withPath(err)
	}
	values := x.(map[string]any)
	if len(values) == 0 {
		return nil, ""
	}
	return values, ""
}

// nixModulePath resolves the path argument of nix.module() called from
// file from (relative to Dir), checks that it names a module inside the
// configuration directory, and records the digests of the module and its
// sibling .nix files. It returns the module's path relative to Dir, or a
// message saying what is wrong.
func (r *run) nixModulePath(from, arg string) (string, string) {
	if arg == "" {
		return "", "path is empty: pass the module's file, such as \"./web.nix\""
	}
	rel, err := resolveLoad(from, arg)
	if err != nil {
		return "", fmt.Sprintf("%s: %v", arg, err)
	}
	where := ""
	if written, _ := strings.CutPrefix(arg, "//"); rel != path.Clean(written) {
		where = fmt.Sprintf(" (looked for %s in the configuration directory)", rel)
	}
	f, ok := r.nixFiles[rel]
	if !ok {
		f = r.statNixModule(rel)
		r.nixFiles[rel] = f
	}
	switch {
	case f.missing:
		return "", fmt.Sprintf("%s: no such file%s", arg, where)
	case f.escapes:
		return "", fmt.Sprintf("%s: leads outside the configuration directory through a symbolic link: keep modules inside it", arg)
	case f.err != nil:
		return "", fmt.Sprintf("%s: %v", arg, f.err)
	case f.dirWithoutDefault:
		return "", fmt.Sprintf("%s: is a directory without default.nix: name the module file%s", arg, where)
	}
	return rel, ""
}

// nixFile is what nix.module() found at a path; kept per Load so that a
// module used by a thousand machines is looked at once.
type nixFile struct {
	missing           bool
	escapes           bool // a symbolic link leads out of the directory
	dirWithoutDefault bool
	err               error
}

// statNixModule looks at the module at rel (a file, or a directory with
// default.nix, which is what Nix imports for a directory) and records
// the digests of the files evaluation will read.
//
// What is hashed: the module file itself plus every other *.nix file in
// the same directory (for a directory module, the *.nix files inside
// it). Modules commonly import their siblings (./hardware.nix, ./users.nix),
// so those are covered; files in other directories that a module imports
// are not, nor is anything outside the configuration directory (nixpkgs
// is digested by the engine). Sibling files that cannot be read inside
// the configuration directory (a symbolic link leading out of it, a
// dangling link) are skipped rather than refused: only the module itself
// must stay inside.
func (r *run) statNixModule(rel string) nixFile {
	info, err := r.root.Stat(rel)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nixFile{missing: true}
		}
		if _, serr := os.Stat(filepath.Join(r.opts.Dir, filepath.FromSlash(rel))); serr == nil {
			return nixFile{escapes: true}
		}
		return nixFile{err: pathErr(err)}
	}
	dir, file := path.Dir(rel), rel
	if info.IsDir() {
		dir, file = rel, path.Join(rel, "default.nix")
		if st, err := r.root.Stat(file); err != nil || st.IsDir() {
			return nixFile{dirWithoutDefault: true}
		}
	}
	if err := r.hashInput(file); err != nil {
		return nixFile{err: pathErr(err)}
	}
	r.hashNixSiblings(dir)
	return nixFile{}
}

// hashInput records the digest of the file at rel in Config.Inputs.Files.
func (r *run) hashInput(rel string) error {
	if _, done := r.cfg.Inputs.Files[rel]; done {
		return nil
	}
	data, err := r.root.ReadFile(rel)
	if err != nil {
		return err
	}
	sum := sha256.Sum256(data)
	r.cfg.Inputs.Files[rel] = hex.EncodeToString(sum[:])
	return nil
}

// hashNixSiblings records the digests of the *.nix files directly in dir
// (relative to Dir), once per directory and Load.
func (r *run) hashNixSiblings(dir string) {
	if r.hashedDirs[dir] {
		return
	}
	r.hashedDirs[dir] = true
	entries, err := fs.ReadDir(r.root.FS(), dir)
	if err != nil {
		return // the module itself is hashed; siblings are best effort
	}
	names := make([]string, 0, len(entries))
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".nix") && !e.IsDir() {
			names = append(names, e.Name())
		}
	}
	sort.Strings(names)
	for _, name := range names {
		rel := path.Join(dir, name)
		if st, err := r.root.Stat(rel); err != nil || !st.Mode().IsRegular() {
			continue
		}
		_ = r.hashInput(rel) // unreadable siblings are skipped, see statNixModule
	}
}

// pathErr drops the operation and path from an *fs.PathError: messages
// name the path as the user wrote it.
func pathErr(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// moduleValue is what nix.module() and nix.inline() return.
type moduleValue struct {
	m      spec.Module
	rel    string // path relative to Dir; "" for an inline module
	inline bool
}

var _ starlark.HasAttrs = (*moduleValue)(nil)

func (v *moduleValue) String() string {
	if v.inline {
		return "<nix.inline>"
	}
	return "<nix.module " + v.rel + ">"
}
func (v *moduleValue) Type() string          { return "nix.module" }
func (v *moduleValue) Freeze()               {} // immutable
func (v *moduleValue) Truth() starlark.Bool  { return starlark.True }
func (v *moduleValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: nix.module") }

// Attr returns m.path: the module file relative to the configuration
// directory, or None for an inline module.
func (v *moduleValue) Attr(name string) (starlark.Value, error) {
	if name == "path" {
		if v.rel == "" {
			return starlark.None, nil
		}
		return starlark.String(v.rel), nil
	}
	return nil, nil // starlark reports "nix.module has no .x field or method"
}

func (v *moduleValue) AttrNames() []string { return []string{"path"} }

// spec returns the module for one machine, with its own copy of Args so
// that machines sharing a module share no maps.
func (v *moduleValue) spec() spec.Module {
	m := v.m
	if m.Args != nil {
		m.Args = spec.Clone(m.Args).(map[string]any)
	}
	return m
}

// passedItself explains what to do when a module is passed where a value
// is expected.
func (v *moduleValue) passedItself() string {
	return fmt.Sprintf("got the module %s; modules go in machine(modules = [...]) or defaults(modules = [...])", v)
}
