package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote/dialguard"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestDialGuardFromEnvironment: with the test bed's guard in the
// environment, ferry refuses to dial an address outside it (here one moto
// invents) before sending anything, and a malformed guard stops the
// command instead of being ignored.
func TestDialGuardFromEnvironment(t *testing.T) {
	dir := t.TempDir()
	config := `deployment(name = "guarded")
machine(name = "cloud", target = ssh(host = "54.214.1.1"), modules = [nix.inline("{ }")])
machine(name = "private", target = ssh(host = "127.0.1.9", jump = ssh(host = "10.0.0.5")), modules = [nix.inline("{ }")])
`
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	key, err := testhosts.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	keyFile := filepath.Join(dir, "key")
	if err := os.WriteFile(keyFile, key.PEM, 0o600); err != nil {
		t.Fatal(err)
	}
	ferry := func(guard string) (int, string) {
		env := map[string]string{dialguard.Env: guard, "FERRY_STATE": "file://" + filepath.Join(dir, ".ferry")}
		lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
		var out bytes.Buffer
		code := Main(context.Background(), []string{"-C", dir, "--ssh-key", keyFile, "exec", "--", "true"},
			IO{Stdin: strings.NewReader(""), Stdout: &out, Stderr: &out, LookupEnv: lookup})
		return code, out.String()
	}
	code, out := ferry("127.0.1.0/24")
	if code == 0 {
		t.Fatalf("ferry exec on machines outside the guard succeeded:\n%s", out)
	}
	for _, want := range []string{"refusing to dial 54.214.1.1:22", "refusing to dial 10.0.0.5:22"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if code, out := ferry("0.0.0.0/0"); code == 0 || !strings.Contains(out, dialguard.Env) {
		t.Errorf("a guard that would widen: exit %d:\n%s\nwant a failure naming %s", code, out, dialguard.Env)
	}
}
