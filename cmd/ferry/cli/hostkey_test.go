package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestHostKeyPin: a host reinstalled with a new host key fails the plan,
// naming both fingerprints and the command to run; `ferry host-key pin`
// shows the new fingerprint, asks, and pins it; the next plan reads the
// host again. Refusals (a key pinned in the configuration, an unreachable
// host, a "no" at the prompt) leave the state as it was.
func TestHostKeyPin(t *testing.T) {
	hosts, _, db := startWebAndDB(t)
	dir := t.TempDir()
	for name, content := range map[string]string{
		"ferry.star": day2Config,
		"web.nix":    "{ ... }: { }\n",
		"db.nix":     "{ ... }: { }\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	setHostEnv(t, hosts, dir)
	mustFerry(t, 0, dir, "", "apply", "--auto-approve")
	oldFP, _ := remote.Fingerprint(db.HostKey)

	db2, err := hosts.Restart("db", testhosts.RestartOptions{NewHostKey: true})
	if err != nil {
		t.Fatal(err)
	}
	newFP, _ := remote.Fingerprint(db2.HostKey)
	pulled := func() string { return mustFerry(t, 0, dir, "", "state", "pull").stdout }
	before := pulled()

	r := mustFerry(t, 1, dir, "", "plan")
	for _, want := range []string{"host key changed: machine.db", "presented key " + newFP, "pinned " + oldFP, "`ferry host-key pin machine.db`"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("plan stderr %q does not contain %q", r.stderr, want)
		}
	}

	// "no" at the prompt: nothing written.
	r = mustFerry(t, 1, dir, "no\n", "host-key", "pin", "machine.db")
	if !strings.Contains(r.stdout, "pinned now: "+oldFP) || !strings.Contains(r.stdout, "new key:    "+newFP) {
		t.Errorf("host-key pin shows %q, want both fingerprints", r.stdout)
	}
	// An unreachable host: nothing written, and the error says how to pin
	// a key read on the console.
	t.Setenv("FERRY_VAR_db_port", "1")
	r = mustFerry(t, 1, dir, "", "host-key", "pin", "db", "--yes")
	if !strings.Contains(r.stderr, "read the host key of machine.db") || !strings.Contains(r.stderr, "--key") {
		t.Errorf("pin of an unreachable host: %q", r.stderr)
	}
	t.Setenv("FERRY_VAR_db_port", strings.TrimPrefix(db2.Address(), db2.Addr+":"))
	// A key pinned in the configuration cannot be overridden from state.
	t.Setenv("FERRY_VAR_db_key", db.HostKey)
	r = mustFerry(t, 1, dir, "", "host-key", "pin", "db", "--yes")
	if !strings.Contains(r.stderr, "pins its host key in the configuration") {
		t.Errorf("pin of a configured key: %q", r.stderr)
	}
	os.Unsetenv("FERRY_VAR_db_key")
	if got := pulled(); got != before {
		t.Errorf("refused pins changed the state:\nbefore %s\nafter %s", before, got)
	}

	r = mustFerry(t, 0, dir, "yes\n", "host-key", "pin", "machine.db")
	if !strings.Contains(r.stdout, "Pinned "+newFP+" for machine.db") || !strings.Contains(r.stdout, "["+db2.Addr+"]:") {
		t.Errorf("host-key pin printed %q", r.stdout)
	}
	r = mustFerry(t, 0, dir, "", "plan")
	if !strings.Contains(r.stdout, "No changes.") {
		t.Errorf("plan after the pin:\n%s\n%s", r.stdout, r.stderr)
	}
	// Pinning the same key again is a no-op; --key takes a known_hosts line.
	line, err := remote.KnownHostsLine(db2.Addr, db2.Port, db2.HostKey)
	if err != nil {
		t.Fatal(err)
	}
	r = mustFerry(t, 0, dir, "", "host-key", "pin", "db", "--key", line)
	if !strings.Contains(r.stdout, "already pins "+newFP) {
		t.Errorf("second pin printed %q", r.stdout)
	}
}
