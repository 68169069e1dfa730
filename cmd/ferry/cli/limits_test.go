package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/alecthomas/kong"

	"github.com/nixferry/ferry/engine"
)

// TestLimitFlags: every concurrency limit of engine/limits.go is shown by
// `ferry plan --help` and `ferry apply --help` with its default: a flag of
// the command under "Concurrency limits" (its default from the table), or
// named in the command's detailed help (the other command's flags, and
// the limits no flag sets).
func TestLimitFlags(t *testing.T) {
	for _, cmd := range []string{"plan", "apply"} {
		r := runFerry(t, t.TempDir(), "", cmd, "--help")
		if r.code != 0 {
			t.Fatalf("ferry %s --help: exit %d\n%s", cmd, r.code, r.stderr)
		}
		group := r.stdout[strings.Index(r.stdout, "\nConcurrency limits\n"):]
		if !strings.HasPrefix(group, "\nConcurrency limits\n") {
			t.Fatalf("ferry %s --help has no Concurrency limits group:\n%s", cmd, r.stdout)
		}
		for _, l := range engine.Limits() {
			switch {
			case l.Flag && !slices.Contains(l.Commands, "plan") && !slices.Contains(l.Commands, "apply"):
				continue // a day-2 command's
			case l.Flag && slices.Contains(l.Commands, cmd):
				flag := regexp.MustCompile(fmt.Sprintf(`(?m)^\s+--%s=%d\s`, regexp.QuoteMeta(l.Name), l.Default))
				if !flag.MatchString(group) {
					t.Errorf("ferry %s --help does not show --%s=%d under Concurrency limits:\n%s", cmd, l.Name, l.Default, group)
				}
			case l.Flag:
				if !regexp.MustCompile(fmt.Sprintf(`--%s \(%d[:)]`, regexp.QuoteMeta(l.Name), l.Default)).MatchString(strings.Join(strings.Fields(r.stdout), " ")) {
					t.Errorf("ferry %s --help does not name --%s (%d):\n%s", cmd, l.Name, l.Default, r.stdout)
				}
			default:
				if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), l.Name+" (") {
					t.Errorf("ferry %s --help does not name %s with its default:\n%s", cmd, l.Name, r.stdout)
				}
			}
		}
		if !strings.Contains(strings.Join(strings.Fields(r.stdout), " "), "declares") {
			t.Errorf("ferry %s --help does not say that providers declare their own limit", cmd)
		}
	}

	// The defaults the commands parse come from the table.
	var root CLI
	p, err := kong.New(&root, append(parserOptions(), kong.Exit(func(int) { t.Fatal("kong exited") }))...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.Parse([]string{"apply"}); err != nil {
		t.Fatal(err)
	}
	a := root.Apply
	got := []int{a.Parallelism, a.MaxConcurrentHostReads, a.MaxConcurrentCopy, a.MaxConcurrentActivate, a.BuildJobs}
	want := []int{engine.LimitParallelism.Default, engine.LimitHostReads.Default, engine.LimitCopy.Default, engine.LimitActivate.Default, engine.LimitBuildJobs.Default}
	if !slices.Equal(got, want) {
		t.Errorf("apply's limit defaults %v, want %v", got, want)
	}
	if root.Plan.Parallelism != engine.LimitParallelism.Default || root.Plan.MaxConcurrentHostReads != engine.LimitHostReads.Default ||
		root.Destroy.Parallelism != engine.LimitParallelism.Default || root.Exec.Parallelism != engine.LimitMachines.Default {
		t.Errorf("plan, destroy or exec: limit defaults not the table's: %+v %+v %d", root.Plan.PlanLimits, root.Destroy.Parallelism, root.Exec.Parallelism)
	}
}

// TestLimitFlagsRefuseZero: a limit below its minimum is refused before
// anything runs, naming the flag and what it bounds.
func TestLimitFlagsRefuseZero(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(`null.resource(name = "a")`+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "--max-concurrent-host-reads", "0"}, "Error: --max-concurrent-host-reads 0: give at least 1 (hosts read at once)\n"},
		{[]string{"apply", "--auto-approve", "--max-concurrent-copy", "0"}, "Error: --max-concurrent-copy 0: give at least 1 (closure copies running at once)\n"},
		{[]string{"apply", "--auto-approve", "--max-concurrent-activate=-1"}, "Error: --max-concurrent-activate -1: give at least 1 (activations running at once)\n"},
		{[]string{"apply", "--auto-approve", "--build-jobs=-1"}, "Error: --build-jobs -1: give at least 0 (Nix build jobs)\n"},
		{[]string{"exec", "--parallelism", "0", "--", "true"}, "Error: --parallelism 0: give at least 1 (machines at once)\n"},
	} {
		r := runFerry(t, dir, "", tt.args...)
		if r.code != 1 || r.stderr != tt.want {
			t.Errorf("ferry %s: exit %d, stderr %q; want 1, %q", strings.Join(tt.args, " "), r.code, r.stderr, tt.want)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, ".ferry")); err == nil {
		t.Errorf("a refused limit left state behind")
	}
}
