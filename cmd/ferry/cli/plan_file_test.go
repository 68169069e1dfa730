//go:build unix

package cli

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// TestWritePlanFile: `ferry plan --out` leaves a plan readable by its
// owner only, also over files that were readable by all (the plan, and
// PLAN.tmp, through which an older ferry wrote), and removes the temporary
// file a killed `ferry plan` left beside it, not a live one's.
func TestWritePlanFile(t *testing.T) {
	me := atomicfile.Self()
	if me.Tag == "" {
		t.Fatal("this process has no writer tag: /proc/sys/kernel/random/boot_id or /proc/self/ns/pid is unreadable")
	}
	exited := exec.Command("true")
	if err := exited.Run(); err != nil {
		t.Fatalf("run true: %v", err)
	}
	dir := t.TempDir()
	path := filepath.Join(dir, "plan.json")
	dead := fmt.Sprintf(".plan.json.ferry-%d-%s-a1b2c3", exited.Process.Pid, me.Tag)
	live := fmt.Sprintf(".plan.json.ferry-%d-%s-d4e5f6", os.Getpid(), me.Tag)
	for name, mode := range map[string]os.FileMode{"plan.json": 0o644, "plan.json.tmp": 0o644, dead: 0o600, live: 0o600} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("older"), mode); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(filepath.Join(dir, name), mode); err != nil { // past the umask
			t.Fatal(err)
		}
	}

	if err := writePlanFile(path, &plan.Plan{Deployment: "site", Options: plan.Options{Activate: "switch", Reboot: "never"}}); err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("plan file mode %04o, want 0600", info.Mode().Perm())
	}
	if p, err := (&App{}).readPlanFile(path); err != nil {
		t.Errorf("reading the plan back: %v", err)
	} else if p.Deployment != "site" {
		t.Errorf("the plan read back is of deployment %q, want site", p.Deployment)
	}
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	// PLAN.tmp names no writer: it is not ferry's to judge.
	if d := cmp.Diff([]string{live, "plan.json", "plan.json.tmp"}, names); d != "" {
		t.Errorf("the folder holds (-want +got):\n%s", d)
	}
}
