package lang

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// Var files (--var-file FILE) give var() values in bulk, as Terraform's
// .tfvars files do:
//   - FILE.json holds one JSON object; each member is a var, with its JSON
//     type (a string, number, bool, list, object or null), where --var and
//     FERRY_VAR_<name> only give strings;
//   - FILE.star (any other name too) is a Starlark file run with the
//     language's own builtins only (no ferry builtins, no load()); its
//     globals not starting with "_" are the vars.
// Later files override earlier ones and --var overrides them all; a var
// no file sets falls back to FERRY_VAR_<name>, then to var()'s default.
// Paths in errors are the paths as given.

// readVarFiles reads every file of opts.VarFiles, later files winning.
func readVarFiles(paths []string) (map[string]starlark.Value, error) {
	vars := map[string]starlark.Value{}
	for _, p := range paths {
		vs, err := readVarFile(p)
		if err != nil {
			return nil, err
		}
		for k, v := range vs {
			v.Freeze() // every var() call sees the file's value
			vars[k] = v
		}
	}
	return vars, nil
}

func readVarFile(path string) (starlark.StringDict, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("var file: %w", err)
	}
	if isJSONVarFile(path, data) {
		return jsonVars(path, data)
	}
	return starlarkVars(path, data)
}

// isJSONVarFile: a .json name, or content starting with "{" in a file
// not named .star.
func isJSONVarFile(path string, data []byte) bool {
	switch filepath.Ext(path) {
	case ".json":
		return true
	case ".star":
		return false
	}
	return bytes.HasPrefix(bytes.TrimSpace(data), []byte("{"))
}

func jsonVars(path string, data []byte) (starlark.StringDict, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var obj map[string]any
	if err := dec.Decode(&obj); err != nil {
		return nil, jsonVarError(path, data, err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return nil, jsonVarError(path, data, fmt.Errorf("more after the JSON object"))
	}
	if obj == nil {
		return nil, &spec.Diagnostic{Pos: spec.Pos{File: path, Line: 1, Col: 1}, Summary: "var file: null: write one JSON object, {\"name\": value, ...}"}
	}
	out := make(starlark.StringDict, len(obj))
	for k, v := range obj {
		if !identifier.MatchString(k) {
			return nil, &spec.Diagnostic{Pos: spec.Pos{File: path, Line: 1, Col: 1}, Summary: fmt.Sprintf(`var file: invalid var name %q: use letters, digits and "_", not starting with a digit`, k)}
		}
		sv, err := jsonToStarlark(v)
		if err != nil {
			return nil, &spec.Diagnostic{Pos: spec.Pos{File: path, Line: 1, Col: 1}, Summary: fmt.Sprintf("var file: var %q: %v", k, err)}
		}
		out[k] = sv
	}
	return out, nil
}

// jsonVarError places a JSON error at its line and column.
func jsonVarError(path string, data []byte, err error) error {
	offset := int64(len(data))
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		offset = se.Offset - 1 // the offset is after the offending byte
	case errors.As(err, &te):
		offset = te.Offset - 1
		err = fmt.Errorf("the file holds a JSON %s: write one JSON object, {\"name\": value, ...}", te.Value)
	}
	before := data[:min(int(offset), len(data))]
	line := bytes.Count(before, []byte("\n")) + 1
	col := len(before) - bytes.LastIndexByte(before, '\n')
	return &spec.Diagnostic{Pos: spec.Pos{File: path, Line: line, Col: col}, Summary: fmt.Sprintf("var file: %v", err)}
}

func jsonToStarlark(v any) (starlark.Value, error) {
	switch v := v.(type) {
	case nil:
		return starlark.None, nil
	case bool:
		return starlark.Bool(v), nil
	case string:
		return starlark.String(v), nil
	case json.Number:
		if i, err := v.Int64(); err == nil {
			return starlark.MakeInt64(i), nil
		}
		f, err := v.Float64()
		if err != nil {
			return nil, fmt.Errorf("number %s: %w", v, err)
		}
		return starlark.Float(f), nil
	case []any:
		out := make([]starlark.Value, len(v))
		for i, e := range v {
			x, err := jsonToStarlark(e)
			if err != nil {
				return nil, err
			}
			out[i] = x
		}
		return starlark.NewList(out), nil
	case map[string]any:
		keys := make([]string, 0, len(v))
		for k := range v {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := starlark.NewDict(len(v))
		for _, k := range keys {
			x, err := jsonToStarlark(v[k])
			if err != nil {
				return nil, err
			}
			if err := d.SetKey(starlark.String(k), x); err != nil {
				return nil, err
			}
		}
		return d, nil
	default:
		return nil, fmt.Errorf("unsupported JSON value %T", v)
	}
}

// starlarkVars runs a .star var file with Starlark's universe only.
func starlarkVars(path string, data []byte) (starlark.StringDict, error) {
	thread := &starlark.Thread{
		Name: "var file " + path,
		Load: func(*starlark.Thread, string) (starlark.StringDict, error) {
			return nil, errors.New("load() is not available in var files: write the values in the file")
		},
	}
	thread.SetMaxExecutionSteps(DefaultMaxSteps)
	globals, err := starlark.ExecFileOptions(dialect(), thread, path, data, nil)
	if err != nil {
		return nil, starlarkVarError(path, err)
	}
	out := starlark.StringDict{}
	for _, name := range globals.Keys() {
		if strings.HasPrefix(name, "_") {
			continue
		}
		v := globals[name]
		if _, err := toValue(v); err != nil {
			return nil, &spec.Diagnostic{Pos: globalPos(path, data, name), Summary: fmt.Sprintf("var file: global %s%s: var files hold plain values (name helpers with a leading _)", name, withPath(err))}
		}
		out[name] = v
	}
	return out, nil
}

// globalPos is where a var file's top-level statement binds name.
func globalPos(path string, data []byte, name string) spec.Pos {
	pos := spec.Pos{File: path, Line: 1, Col: 1}
	f, err := dialect().Parse(path, data, 0)
	if err != nil {
		return pos
	}
	for _, stmt := range f.Stmts {
		var id *syntax.Ident
		switch st := stmt.(type) {
		case *syntax.DefStmt:
			id = st.Name
		case *syntax.AssignStmt:
			id, _ = st.LHS.(*syntax.Ident)
		}
		if id != nil && id.Name == name {
			return spec.Pos{File: path, Line: int(id.NamePos.Line), Col: int(id.NamePos.Col)}
		}
	}
	return pos
}

func starlarkVarError(path string, err error) error {
	pos := spec.Pos{File: path}
	var ee *starlark.EvalError
	if errors.As(err, &ee) {
		for _, f := range ee.CallStack { // outermost first: the last frame in the file wins
			if f.Pos.Line > 0 {
				pos = spec.Pos{File: path, Line: int(f.Pos.Line), Col: int(f.Pos.Col)}
			}
		}
		return &spec.Diagnostic{Pos: pos, Summary: "var file: " + ee.Msg}
	}
	var rl resolve.ErrorList
	if errors.As(err, &rl) && len(rl) > 0 {
		return &spec.Diagnostic{Pos: spec.Pos{File: path, Line: int(rl[0].Pos.Line), Col: int(rl[0].Pos.Col)}, Summary: "var file: " + rl[0].Msg}
	}
	var se syntax.Error
	if errors.As(err, &se) {
		return &spec.Diagnostic{Pos: spec.Pos{File: path, Line: int(se.Pos.Line), Col: int(se.Pos.Col)}, Summary: "var file: " + se.Msg}
	}
	return &spec.Diagnostic{Pos: spec.Pos{File: path, Line: 1, Col: 1}, Summary: "var file: " + err.Error()}
}
