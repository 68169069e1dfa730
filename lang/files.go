package lang

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path"
	"strings"

	"go.starlark.net/starlark"
)

// loadModule implements load(): it resolves the module path against the
// loading file, executes the file once and returns its globals. Problems
// are recorded at the load statement (the innermost frame while Starlark
// calls thread.Load) and reportedError is returned.
func (r *run) loadModule(thread *starlark.Thread, name string) (starlark.StringDict, error) {
	from := r.loading[len(r.loading)-1]
	rel, err := resolveLoad(from, name)
	if err != nil {
		r.diags = append(r.diags, r.callerError(thread, "cannot load %q: %v", name, err))
		return nil, reportedError{}
	}
	if m, ok := r.modules[rel]; ok {
		if !m.done {
			chain := r.loading
			for i, f := range chain {
				if f == rel {
					chain = chain[i:]
					break
				}
			}
			r.diags = append(r.diags, r.callerError(thread, "load cycle: %s -> %s", strings.Join(chain, " -> "), rel))
			return nil, reportedError{}
		}
		if m.failed {
			return nil, reportedError{}
		}
		return m.globals, nil
	}
	src, err := r.root.ReadFile(rel)
	if err != nil {
		msg := fmt.Sprintf("cannot load %q: %v", name, err)
		if errors.Is(err, os.ErrNotExist) {
			msg = fmt.Sprintf("cannot load %q: %s does not exist", name, rel)
		}
		r.diags = append(r.diags, r.callerError(thread, "%s", msg))
		return nil, reportedError{}
	}
	m := r.execModule(thread, rel, src)
	if m.failed {
		return nil, reportedError{}
	}
	return m.globals, nil
}

// execModule executes one file (rel is slash-separated, relative to Dir)
// on thread and caches the outcome; problems go to run.diags.
func (r *run) execModule(thread *starlark.Thread, rel string, src []byte) *module {
	sum := sha256.Sum256(src)
	r.cfg.Inputs.Files[rel] = hex.EncodeToString(sum[:])
	m := &module{}
	r.modules[rel] = m
	r.loading = append(r.loading, rel)
	defer func() {
		r.loading = r.loading[:len(r.loading)-1]
		m.done = true
	}()

	f, prog, err := starlark.SourceProgramOptions(dialect(), rel, src, r.predeclared.Has)
	if err != nil {
		r.record(err)
		m.failed = true
		return m
	}
	r.indexCalls(f)
	globals, err := prog.Init(thread, r.predeclared)
	if err != nil {
		r.record(err)
		m.failed = true
		return m
	}
	globals.Freeze()
	m.globals = globals
	return m
}

// resolveLoad resolves a load() path: "//x" from Dir, anything else from
// the directory of the loading file from. The result is a clean slash
// path relative to Dir.
func resolveLoad(from, name string) (string, error) {
	var p string
	switch {
	case name == "":
		return "", errors.New("empty path")
	case strings.HasPrefix(name, "//"):
		p = name[2:]
	case strings.HasPrefix(name, "/"):
		return "", errors.New(`absolute paths are not allowed: write "//path" for a path from the configuration directory`)
	default:
		p = path.Join(path.Dir(from), name)
	}
	return cleanRel(p)
}

// cleanRel cleans a slash path relative to Dir and refuses one that leaves
// Dir or names Dir itself.
func cleanRel(p string) (string, error) {
	p = path.Clean(p)
	if p == "." || p == "" {
		return "", errors.New("the path names the configuration directory, not a file")
	}
	if p == ".." || strings.HasPrefix(p, "../") || path.IsAbs(p) {
		return "", errors.New("the path escapes the configuration directory")
	}
	return p, nil
}
