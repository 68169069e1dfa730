package nix

import (
	"context"
	"errors"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

func TestNixMessage(t *testing.T) {
	tests := []struct{ name, stderr, want string }{
		{"evaluation error",
			"trace: ferry-eval-machine \"a\"\nerror: attribute 'x' missing\n\n       at /a.nix:1:2:\n\n            1| { x }\n(use '--show-trace' to show detailed location information)\n",
			"attribute 'x' missing\n\nat /a.nix:1:2:\n\n     1| { x }"},
		{"several errors",
			"building...\nerror: builder for 'a.drv' failed with exit code 1\nerror: build of 'a.drv' failed\n",
			"builder for 'a.drv' failed with exit code 1\nerror: build of 'a.drv' failed"},
		{"no error line", "one\ntwo\nthree\nfour\nfive\nsix\n", "two\nthree\nfour\nfive\nsix"},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, nixMessage(tt.stderr)); diff != "" {
			t.Errorf("%s (-want +got):\n%s", tt.name, diff)
		}
	}
}

func TestMissingNix(t *testing.T) {
	_, err := Nix{Bin: t.TempDir()}.Closure(context.Background(), "/nix/store/x")
	if err == nil || !strings.Contains(err.Error(), "install Nix") {
		t.Errorf("want an error saying to install Nix, got %v", err)
	}
}

func TestEvaluateCancelled(t *testing.T) {
	n := testNix(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done() // expired before Evaluate starts, however busy the machine
	_, err := n.Evaluate(ctx, EvalOptions{Nixpkgs: nixtest.NixpkgsPath(), Machines: fleet(t), Resources: fleetResources()})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("want context.DeadlineExceeded, got %v", err)
	}
}

// The package must not import engine (engine/spec is allowed), lang or
// remote (DESIGN.md, "Packages").
func TestImportBoundaries(t *testing.T) {
	const module = "github.com/nixferry/ferry/"
	for _, dir := range []string{".", "nixtest"} {
		files, err := filepath.Glob(filepath.Join(dir, "*.go"))
		if err != nil {
			t.Fatal(err)
		}
		for _, file := range files {
			f, err := parser.ParseFile(token.NewFileSet(), file, nil, parser.ImportsOnly)
			if err != nil {
				t.Fatal(err)
			}
			for _, imp := range f.Imports {
				path, _ := strconv.Unquote(imp.Path.Value)
				rel, ours := strings.CutPrefix(path, module)
				if !ours {
					continue
				}
				if rel == "engine/spec" || strings.HasPrefix(rel, "providers/nix") {
					continue
				}
				if strings.HasPrefix(rel, "engine") || strings.HasPrefix(rel, "lang") || strings.HasPrefix(rel, "remote") {
					t.Errorf("%s imports %s", file, path)
				}
			}
		}
	}
	if _, err := os.Stat("doc.go"); err != nil {
		t.Error("the package has no doc.go")
	}
}
