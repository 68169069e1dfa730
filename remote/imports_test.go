package remote_test

import (
	"go/parser"
	"go/token"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// TestImportBoundaries enforces DESIGN.md: remote must not import engine
// (engine/spec is allowed) or lang. Test files may use remote/testhosts,
// and those of remote/testhosts the stub nixpkgs (providers/nix/nixtest)
// to build the systems they install.
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/nixferry/ferry/"
	allowed := map[string]bool{
		module + "engine/spec":      true,
		module + "remote":           true,
		module + "remote/testhosts": true,
	}
	files, err := filepath.Glob("*.go")
	if err != nil {
		t.Fatal(err)
	}
	more, _ := filepath.Glob("testhosts/*.go")
	files = append(files, more...)
	for _, f := range files {
		parsed, err := parser.ParseFile(token.NewFileSet(), f, nil, parser.ImportsOnly)
		if err != nil {
			t.Fatal(err)
		}
		for _, imp := range parsed.Imports {
			path, _ := strconv.Unquote(imp.Path.Value)
			testOnly := path == module+"providers/nix/nixtest" && strings.HasPrefix(f, "testhosts/") && strings.HasSuffix(f, "_test.go")
			if strings.HasPrefix(path, module) && !allowed[path] && !testOnly {
				t.Errorf("%s imports %s: remote may only import engine/spec from this repository", f, path)
			}
			if path == module+"remote/testhosts" && !strings.HasSuffix(f, "_test.go") {
				t.Errorf("%s imports remote/testhosts outside a test", f)
			}
		}
	}
}
