package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestReferenceIsCurrent fails when docs/reference.md is not what the
// code generates: a builtin, an argument or a schema changed without the
// reference.
func TestReferenceIsCurrent(t *testing.T) {
	want, err := Reference()
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join("..", "..", "..", ReferenceFile))
	if err != nil {
		t.Fatalf("%v: run `go generate ./cmd/ferry/cli` to write it", err)
	}
	if !bytes.Equal(got, want) {
		gl, wl := strings.Split(string(got), "\n"), strings.Split(string(want), "\n")
		line := 0
		for line < len(gl) && line < len(wl) && gl[line] == wl[line] {
			line++
		}
		at := func(lines []string) string {
			if line < len(lines) {
				return lines[line]
			}
			return "(end of file)"
		}
		t.Errorf("%s is not current: line %d reads %q, want %q; run `go generate ./cmd/ferry/cli` (or `go run ./cmd/ferry docs --out %s`) and commit it", ReferenceFile, line+1, at(gl), at(wl), ReferenceFile)
	}
}
