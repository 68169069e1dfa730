package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// TestPlanEvaluationError: a machine that Nix cannot evaluate fails the
// plan at the machine's declaration, with Nix's own message and the hint
// to show the trace; --show-trace shows it; nothing is written.
func TestPlanEvaluationError(t *testing.T) {
	nixtest.RequireNix(t)
	dir := t.TempDir()
	config := `machine(name = "good", target = ssh(host = "10.0.0.2"), modules = [nix.inline("{ }")])
machine(
    name = "broken",
    target = ssh(host = "10.0.0.3"),
    modules = [nix.inline("{ ferry.test.failEval = true; }")],
)
`
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("NIX_PATH", "nixpkgs="+nixtest.NixpkgsPath())
	t.Setenv("NIX_CONFIG", "substituters =\nsandbox = false")
	t.Setenv("FERRY_STATE", "file://"+filepath.Join(dir, ".ferry"))
	out := filepath.Join(dir, "plan.json")
	r := mustFerry(t, 1, dir, "", "plan", "--refresh=false", "--out", out)
	for _, want := range []string{
		"ferry.star:2:1: evaluate machine broken:",
		"evaluation of broken failed as requested by ferry.test.failEval",
		"plan again with --show-trace",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(out); err == nil {
		t.Errorf("a failed plan wrote %s", out)
	}
	r = mustFerry(t, 1, dir, "", "plan", "--refresh=false", "--show-trace")
	if !strings.Contains(r.stderr, "while evaluating") || strings.Contains(r.stderr, "plan again with --show-trace") {
		t.Errorf("--show-trace: stderr has no trace, or still the hint:\n%s", r.stderr)
	}
}
