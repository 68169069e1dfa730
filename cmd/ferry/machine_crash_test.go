package main

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers/nix/nixtest"
	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestKilledBetweenActivationAndConfirmation: ferry is killed with SIGKILL
// after it switched a host and before it confirmed the switch (here while
// a post-activation key's command runs). The host's rollback watchdog is
// still armed. The next plan must not say "No changes": it names the
// unconfirmed switch and deploys the machine again; that deploy confirms
// (superseding the old watchdog), and the host keeps the new system.
func TestKilledBetweenActivationAndConfirmation(t *testing.T) {
	nixtest.RequireNix(t)
	ferry, err := exec.LookPath("ferry")
	if err != nil {
		t.Fatalf("ferry is not on PATH (TestMain installs it): %v", err)
	}
	fleet, err := testhosts.Start(context.Background(), testhosts.Options{Names: []string{"h1"}})
	if err != nil {
		t.Fatalf("start test hosts (needs root, nix and sshd): %v", err)
	}
	t.Cleanup(func() { _ = fleet.Stop() })
	h, _ := fleet.Host("h1")

	dir := t.TempDir()
	marker, release := filepath.Join(dir, "key-started"), filepath.Join(dir, "key-release")
	t.Cleanup(func() { _ = os.WriteFile(release, nil, 0o600) })
	config := `deployment(name = "crash")
machine(
    name = "h1",
    target = ssh(host = var("host"), port = int(var("port"))),
    modules = [nix.inline(var("extra", default = "{ }"))],
    keys = [key("token", command = ["sh", "-c", var("token_cmd")], upload_at = "post-activation")],
    confirm_timeout = "3s",
)
`
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(config), 0o644); err != nil {
		t.Fatal(err)
	}
	env := append(crashEnv(),
		"NIX_PATH=nixpkgs="+nixtest.NixpkgsPath(),
		"NIX_CONFIG=substituters =\nsandbox = false",
		"FERRY_SSH_KEY="+fleet.ClientKeyFile,
		"SSH_AUTH_SOCK=",
		"FERRY_VAR_host="+h.Addr,
		"FERRY_VAR_port="+strconv.Itoa(h.Port),
	)
	fast := "FERRY_VAR_token_cmd=printf token"
	run := func(extra []string, args ...string) (string, string, int) {
		t.Helper()
		cmd := exec.Command(ferry, args...)
		cmd.Dir, cmd.Env = dir, append(append([]string(nil), env...), extra...)
		var out, errb bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errb
		err := cmd.Run()
		var ee *exec.ExitError
		code := 0
		switch {
		case errors.As(err, &ee):
			code = ee.ExitCode()
		case err != nil:
			t.Fatalf("ferry %s: %v", strings.Join(args, " "), err)
		}
		return out.String(), errb.String(), code
	}
	if out, errOut, code := run([]string{fast}, "apply", "--auto-approve"); code != 0 {
		t.Fatalf("first apply: exit %d\n%s\n%s", code, out, errOut)
	}
	old, _ := h.CurrentSystem()

	// The second release: its key command blocks after the switch.
	// It also ends when the test's folder is gone, so that a command
	// orphaned by the kill never outlives the test.
	block := "FERRY_VAR_token_cmd=touch " + marker + "; while [ ! -e " + release + " ] && [ -d " + dir + " ]; do sleep 0.05; done; printf token"
	newSystem := []string{"FERRY_VAR_extra={ networking.domain = \"release-2.example\"; }"}
	cmd := exec.Command(ferry, "apply", "--auto-approve")
	cmd.Dir, cmd.Env = dir, append(append(append([]string(nil), env...), block), newSystem...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		if _, err := os.Stat(marker); err == nil {
			break
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatalf("the key command never started:\n%s", out.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	_ = cmd.Process.Signal(syscall.SIGKILL)
	_ = cmd.Wait()
	switched, _ := h.CurrentSystem()
	if switched == old {
		t.Fatalf("the host did not switch before the kill:\n%s", out.String())
	}

	// The next plan sees the unconfirmed switch.
	planOut, planErr, code := run(append([]string{fast}, newSystem...), "plan", "--detailed-exitcode")
	if code != 2 || !strings.Contains(planOut, "machine.h1 will be deployed") {
		t.Fatalf("plan after the kill: exit %d, want 2 with h1 deployed\n%s\n%s", code, planOut, planErr)
	}
	for _, want := range []string{"did not finish verified", "unconfirmed: a switch to " + switched + " started by an interrupted ferry run is not confirmed; the host will switch back to " + old} {
		if !strings.Contains(planOut, want) {
			t.Errorf("plan after the kill does not say %q:\n%s", want, planOut)
		}
	}

	// Applying it confirms the switch and supersedes the old watchdog.
	if out, errOut, code := run(append([]string{fast}, newSystem...), "apply", "--auto-approve"); code != 0 {
		t.Fatalf("apply after the kill: exit %d\n%s\n%s", code, out, errOut)
	}
	d := remote.NewDialer(remote.Options{KeyFiles: []string{fleet.ClientKeyFile}})
	defer d.Close()
	conn, err := d.Dial(context.Background(), remote.Target{Host: h.Addr, Port: h.Port, HostKey: h.HostKey})
	if err != nil {
		t.Fatal(err)
	}
	facts, err := remote.Probe(context.Background(), conn)
	if err != nil {
		t.Fatal(err)
	}
	if len(facts.PendingWatchdogs) != 0 || facts.Current != switched {
		t.Errorf("after the re-apply: pending watchdogs %+v, current %s; want none and %s", facts.PendingWatchdogs, facts.Current, switched)
	}
	if out, errOut, code := run(append([]string{fast}, newSystem...), "plan", "--detailed-exitcode"); code != 0 {
		t.Errorf("plan after the re-apply: exit %d, want 0 (no changes)\n%s\n%s", code, out, errOut)
	}
}
