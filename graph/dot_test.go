package graph

import (
	"bytes"
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

var update = flag.Bool("update", false, "rewrite golden files in testdata")

func TestWriteDOTGolden(t *testing.T) {
	tests := []struct {
		name  string
		g     *Graph[string]
		label func(string) string
	}{
		{"empty", build(), nil},
		{"diamond", build("top>left", "top>right", "left>bottom", "right>bottom", "alone"), nil},
		{
			"quoted labels",
			build(`null.resource.a>machine."web"`, `machine."web">back\slash`),
			func(k string) string { return k + "\nline two" },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := tt.g.WriteDOT(&buf, "ferry "+tt.name, tt.label); err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.ReplaceAll(tt.name, " ", "_")+".dot")
			if *update {
				if err := os.WriteFile(golden, buf.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("read golden file (run go test -update to create it): %v", err)
			}
			if diff := cmp.Diff(string(want), buf.String()); diff != "" {
				t.Errorf("WriteDOT (-%s +got):\n%s", golden, diff)
			}
		})
	}
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

func TestWriteDOTError(t *testing.T) {
	err := build("a>b").WriteDOT(failingWriter{}, "g", nil)
	if err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Errorf("WriteDOT to a failing writer = %v, want the write error", err)
	}
}
