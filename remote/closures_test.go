package remote_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote"
)

// TestClosuresAskTheLocalStoreOnce prepares copies of one system to two
// hosts through one remote.Closures: the local store is asked for the
// closure and its sizes once (a nix-store first on PATH logs its calls),
// and both copies know the same closure.
func TestClosuresAskTheLocalStoreOnce(t *testing.T) {
	fleet, sys := fixture(t)
	real, err := exec.LookPath("nix-store")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	calls := filepath.Join(dir, "calls")
	logging := "#!/bin/sh\necho \"$*\" >> " + calls + "\nexec " + real + " \"$@\"\n"
	if err := os.WriteFile(filepath.Join(dir, "nix-store"), []byte(logging), 0o755); err != nil {
		t.Fatal(err)
	}
	t.Setenv("PATH", dir+":"+os.Getenv("PATH"))

	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	var cl remote.Closures
	for _, h := range fleet.Hosts[:2] {
		c, err := cl.PrepareCopyToStore(context.Background(), dial(t, d, h), []string{sys["alt"]}, "")
		if err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if _, err := c.Stream(context.Background(), nil); err != nil {
			t.Fatalf("%s: %v", h.Name, err)
		}
		if !h.HasPath(sys["alt"]) {
			t.Errorf("%s lacks %s after the copy", h.Name, sys["alt"])
		}
	}
	b, err := os.ReadFile(calls)
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{"--query --requisites", "--query --size"} {
		if n := strings.Count(string(b), q); n != 1 {
			t.Errorf("the local store was asked %q %d times, want once; calls:\n%s", q, n, b)
		}
	}
}
