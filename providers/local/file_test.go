package local

import (
	"crypto/sha256"
	"encoding/hex"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New: func(t *testing.T) providers.Provider { return Provider(t.TempDir()) },
		Types: map[string]providertest.Case{Type: {
			Create:   map[string]any{"path": "out/hello.txt", "content": "hello\n"},
			Update:   map[string]any{"content": "goodbye\n", "mode": "0600"},
			Replace:  map[string]any{"path": "out/other.txt"},
			External: true,
		}},
	})
}

const addr = "local.file.motd"

func sha(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}

func TestPlan(t *testing.T) {
	unknownID := spec.Unknown{Source: addr + ".id"}
	prior := map[string]any{"path": "motd", "content": "hi", "mode": "0644", "id": sha("hi")}
	tests := []struct {
		name        string
		prior       map[string]any
		config      map[string]any
		wantPlanned map[string]any
		wantReplace []string
	}{
		{
			name:        "create, id known from content",
			config:      map[string]any{"path": "motd", "content": "hi"},
			wantPlanned: map[string]any{"path": "motd", "content": "hi", "mode": "0644", "id": sha("hi")},
		},
		{
			name:        "create, unknown content gives unknown id",
			config:      map[string]any{"path": "motd", "content": spec.Unknown{Source: "null.resource.a.id"}, "mode": "0600"},
			wantPlanned: map[string]any{"path": "motd", "content": spec.Unknown{Source: "null.resource.a.id"}, "mode": "0600", "id": unknownID},
		},
		{
			name:        "unchanged",
			prior:       prior,
			config:      map[string]any{"path": "motd", "content": "hi", "mode": "0644"},
			wantPlanned: prior,
		},
		{
			name:        "content change is in place",
			prior:       prior,
			config:      map[string]any{"path": "motd", "content": "bye", "mode": "0644"},
			wantPlanned: map[string]any{"path": "motd", "content": "bye", "mode": "0644", "id": sha("bye")},
		},
		{
			name:        "mode change is in place",
			prior:       prior,
			config:      map[string]any{"path": "motd", "content": "hi", "mode": "600"},
			wantPlanned: map[string]any{"path": "motd", "content": "hi", "mode": "600", "id": sha("hi")},
		},
		{
			name:        "path change replaces",
			prior:       prior,
			config:      map[string]any{"path": "etc/motd", "content": "hi", "mode": "0644"},
			wantPlanned: map[string]any{"path": "etc/motd", "content": "hi", "mode": "0644", "id": sha("hi")},
			wantReplace: []string{"path"},
		},
		{
			name:        "unknown path replaces",
			prior:       prior,
			config:      map[string]any{"path": spec.Unknown{}, "content": "hi", "mode": "0644"},
			wantPlanned: map[string]any{"path": spec.Unknown{}, "content": "hi", "mode": "0644", "id": sha("hi")},
			wantReplace: []string{"path"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := New(t.TempDir()).Plan(t.Context(), providers.PlanRequest{Addr: addr, Prior: tt.prior, Config: tt.config})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPlanned, resp.Planned); diff != "" {
				t.Errorf("planned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReplace, resp.RequiresReplace); diff != "" {
				t.Errorf("requires replace (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRejectsBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		config map[string]any
		want   string
	}{
		{"mode word", map[string]any{"path": "f", "content": "", "mode": "rw-r--r--"}, `local.file.motd: attribute "mode" = "rw-r--r--" is not a file mode`},
		{"mode not octal", map[string]any{"path": "f", "content": "", "mode": "0888"}, `attribute "mode" = "0888" is not a file mode`},
		{"mode with setuid", map[string]any{"path": "f", "content": "", "mode": "4755"}, `attribute "mode" = "4755" is not a file mode`},
		{"mode as number", map[string]any{"path": "f", "content": "", "mode": spec.Number(644)}, `attribute "mode" must be a string, got 644`},
		{"missing path", map[string]any{"content": "x"}, `local.file.motd: missing required attribute "path"`},
		{"empty path", map[string]any{"path": "", "content": "x"}, `attribute "path" is empty`},
		{"content not a string", map[string]any{"path": "f", "content": true}, `attribute "content" must be a string, got true`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New(t.TempDir()).Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: tt.config})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Plan error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

// create plans and applies a local.file in dir and returns its state.
func create(t *testing.T, r providers.Resource, config map[string]any) map[string]any {
	t.Helper()
	p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: config})
	if err != nil {
		t.Fatal(err)
	}
	resp, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned})
	if err != nil {
		t.Fatal(err)
	}
	return resp.State
}

func read(t *testing.T, r providers.Resource, prior map[string]any) map[string]any {
	t.Helper()
	resp, err := r.Read(t.Context(), providers.ReadRequest{Addr: addr, Prior: prior})
	if err != nil {
		t.Fatal(err)
	}
	return resp.State
}

func TestCreateWritesFile(t *testing.T) {
	dir := t.TempDir()
	abs := filepath.Join(t.TempDir(), "abs", "file")
	tests := []struct {
		name     string
		path     string
		mode     string
		onDisk   string
		wantPerm os.FileMode
	}{
		{"relative to the config dir, parents created", "a/b/c.txt", "0644", filepath.Join(dir, "a/b/c.txt"), 0o644},
		{"absolute", abs, "0600", abs, 0o600},
		{"mode wider than the umask", "wide", "0666", filepath.Join(dir, "wide"), 0o666},
		{"three-digit mode", "exec.sh", "755", filepath.Join(dir, "exec.sh"), 0o755},
	}
	t.Chdir(t.TempDir()) // relative paths must not depend on the working dir
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := create(t, New(dir), map[string]any{"path": tt.path, "content": "body " + tt.name, "mode": tt.mode})
			got, err := os.ReadFile(tt.onDisk)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != "body "+tt.name {
				t.Errorf("content on disk = %q", got)
			}
			info, err := os.Stat(tt.onDisk)
			if err != nil {
				t.Fatal(err)
			}
			if perm := info.Mode().Perm(); perm != tt.wantPerm {
				t.Errorf("mode on disk = %04o, want %04o", perm, tt.wantPerm)
			}
			want := map[string]any{"path": tt.path, "content": "body " + tt.name, "mode": tt.mode, "id": sha("body " + tt.name)}
			if diff := cmp.Diff(want, st); diff != "" {
				t.Errorf("state (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(st, read(t, New(dir), st)); diff != "" {
				t.Errorf("read of an unchanged file (-state +read):\n%s", diff)
			}
		})
	}
	leftovers, _ := filepath.Glob(filepath.Join(dir, "*", "*", ".*ferry-*"))
	more, _ := filepath.Glob(filepath.Join(dir, ".*ferry-*"))
	if len(leftovers)+len(more) > 0 {
		t.Errorf("temporary files left behind: %v %v", leftovers, more)
	}
}

func TestReadDetectsDrift(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	st := create(t, r, map[string]any{"path": "motd", "content": "v1", "mode": "0644"})
	full := filepath.Join(dir, "motd")

	if err := os.WriteFile(full, []byte("edited by hand"), 0o644); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"path": "motd", "content": "edited by hand", "mode": "0644", "id": sha("edited by hand")}
	if diff := cmp.Diff(want, read(t, r, st)); diff != "" {
		t.Errorf("read after an edit (-want +got):\n%s", diff)
	}

	if err := os.Chmod(full, 0o600); err != nil {
		t.Fatal(err)
	}
	want["mode"] = "0600"
	if diff := cmp.Diff(want, read(t, r, st)); diff != "" {
		t.Errorf("read after chmod (-want +got):\n%s", diff)
	}

	// The drifted state plans an in-place update back to the config.
	drifted := read(t, r, st)
	p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Prior: drifted, Config: map[string]any{"path": "motd", "content": "v1", "mode": "0644"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.RequiresReplace) > 0 || cmp.Equal(p.Planned, drifted) {
		t.Errorf("plan after drift = %+v, want an in-place update", p)
	}
	resp, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Update, Prior: drifted, Planned: p.Planned})
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(st, read(t, r, resp.State)); diff != "" {
		t.Errorf("read after the update (-original +read):\n%s", diff)
	}

	if err := os.Remove(full); err != nil {
		t.Fatal(err)
	}
	if got := read(t, r, st); got != nil {
		t.Errorf("read of a removed file = %v, want nil", got)
	}
}

func TestReadKeepsModeSpelling(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	st := create(t, r, map[string]any{"path": "f", "content": "x", "mode": "600"})
	if got := read(t, r, st)["mode"]; got != "600" {
		t.Errorf("mode read back as %v, want the recorded spelling \"600\"", got)
	}
}

func TestDelete(t *testing.T) {
	dir := t.TempDir()
	r := New(dir)
	st := create(t, r, map[string]any{"path": "sub/f", "content": "x"})
	for _, step := range []string{"delete", "delete when already gone"} {
		if _, err := r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Delete, Prior: st}); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if _, err := os.Stat(filepath.Join(dir, "sub/f")); !os.IsNotExist(err) {
			t.Errorf("%s: file still there (stat: %v)", step, err)
		}
	}
}

func TestWriteFailureNamesPathAndLeavesNothing(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "blocker"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r := New(dir)
	p, err := r.Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: map[string]any{"path": "blocker/f", "content": "x"}})
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Apply(t.Context(), providers.ApplyRequest{Addr: addr, Action: providers.Create, Planned: p.Planned})
	if err == nil || !strings.Contains(err.Error(), "create local.file.motd") || !strings.Contains(err.Error(), "blocker") {
		t.Errorf("create under a regular file: error %v, want one naming the resource and path", err)
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("dir holds %d entries after a failed write, want only the blocker", len(entries))
	}
}

func TestApplyRefusesUnknowns(t *testing.T) {
	_, err := New(t.TempDir()).Apply(t.Context(), providers.ApplyRequest{
		Addr: addr, Action: providers.Create,
		Planned: map[string]any{"path": "f", "content": spec.Unknown{}, "mode": "0644", "id": spec.Unknown{}},
	})
	if err == nil || !strings.Contains(err.Error(), "still unknown") {
		t.Errorf("create with unknown content: error %v, want 'still unknown'", err)
	}
}
