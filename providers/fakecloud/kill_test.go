package fakecloud

import (
	"bufio"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers"
)

const killDirEnv = "FERRY_FAKECLOUD_KILL_DIR"

// TestKilledRunLeavesObjects runs a "ferry" (this test binary, in a child
// process) whose create of a fake.thing hangs after the object is made,
// kills it with SIGKILL while it hangs, and then checks that the next run
// finds the object in the folder by its creation token, and that a
// retried create with the token makes no second object.
func TestKilledRunLeavesObjects(t *testing.T) {
	if dir := os.Getenv(killDirEnv); dir != "" {
		runUntilKilled(t, dir)
		return
	}
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "faults"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "faults", "fake.thing.create"), []byte("hang-after 1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestKilledRunLeavesObjects$", "-test.count=1")
	cmd.Env = append(os.Environ(), killDirEnv+"="+dir)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The child says when its create hangs, the object made.
	sc := bufio.NewScanner(out)
	hanging := false
	var said []string
	for !hanging && sc.Scan() {
		said = append(said, sc.Text())
		hanging = sc.Text() == "hanging"
	}
	if err := cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if !hanging {
		t.Fatalf("the child never reported its create hanging; it said:\n%s", strings.Join(said, "\n"))
	}

	c := configure(t, New(), "", map[string]any{"dir": dir})
	r := resource(c, ThingType)
	resp, err := r.(providers.Adopter).Adopt(t.Context(), providers.AdoptRequest{Addr: "fake.thing.a", Token: "killed-run-token"})
	if err != nil || resp.State == nil {
		t.Fatalf("Adopt after the kill: %v, %v; want the object the killed run made", resp.State, err)
	}
	st := mustCreate(t, c, ThingType, "fake.thing.a", "killed-run-token", map[string]any{"value": "v"})
	if st["id"] != resp.State["id"] {
		t.Errorf("retried create made %v, want the adopted %v", st["id"], resp.State["id"])
	}
	if objs, _ := c.Store().List(ThingType); len(objs) != 1 {
		t.Errorf("%d objects after the retry, want 1", len(objs))
	}
	stats, err := DirStats(dir)
	if err != nil || stats.Calls["fake.thing.create"] != 2 || stats.Calls["fake.thing.find"] != 1 || stats.Hanging["fake.thing.create"] != 1 {
		t.Errorf("DirStats: %+v, %v; want both creates, the find and the hang", stats, err)
	}
	if leftovers, _ := filepath.Glob(filepath.Join(dir, "objects", ThingType, ".*")); len(leftovers) > 0 {
		t.Errorf("temporary files left in the folder: %v", leftovers)
	}
}

// runUntilKilled is the child: a create that hangs once the object exists.
func runUntilKilled(t *testing.T, dir string) {
	p := New()
	c := configure(t, p, "", map[string]any{"dir": dir})
	// A child that never hangs gives up, so that the parent is not
	// left waiting.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	go func() {
		_, err := create(t, c, ThingType, "fake.thing.a", "killed-run-token", map[string]any{"value": "v"})
		if err != nil && !strings.Contains(err.Error(), "interrupted") {
			os.Stdout.WriteString("error: " + err.Error() + "\n")
		}
	}()
	if err := p.WaitHanging(ctx, "fake.thing.create", 1); err != nil {
		t.Fatal(err)
	}
	os.Stdout.WriteString("hanging\n")
	select {} // until killed
}
