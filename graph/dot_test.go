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

// TestWriteDOTWithGolden draws shapes, clusters (out of insertion order:
// node numbers stay the insertion index) and dashed ordering edges.
func TestWriteDOTWithGolden(t *testing.T) {
	g := build("r.a>m.1", "r.a>m.2", "gate>m.3", "alone")
	g.ConnectAfter("m.1", "gate")
	g.ConnectAfter("m.2", "gate")
	opts := DOTOptions[string]{
		Label: func(k string) string { return "do " + k },
		Shape: func(k string) string {
			switch {
			case strings.HasPrefix(k, "m."):
				return "box"
			case k == "gate":
				return "diamond"
			}
			return ""
		},
		Cluster: func(k string) string {
			switch k {
			case "m.1", "m.2":
				return "batch 1"
			case "m.3":
				return "batch \"2\""
			}
			return ""
		},
		Ordering: true,
	}
	var buf bytes.Buffer
	if err := g.WriteDOTWith(&buf, "ferry", opts); err != nil {
		t.Fatal(err)
	}
	golden := filepath.Join("testdata", "clusters.dot")
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
		t.Errorf("WriteDOTWith (-%s +got):\n%s", golden, diff)
	}
	// Without Ordering, the dashed edges are left out, as WriteDOT does.
	buf.Reset()
	opts.Ordering = false
	if err := g.WriteDOTWith(&buf, "ferry", opts); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "dashed") {
		t.Errorf("WriteDOTWith without Ordering drew ordering edges:\n%s", buf.String())
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
