package remote_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/nixferry/ferry/remote/testhosts"
)

// The tests that copy closures and activate share one fleet of three real
// test hosts and one set of stub systems, started on first use and stopped
// after all tests. Tests must not assume what other tests left on the hosts.
var shared struct {
	once    sync.Once
	fleet   *testhosts.Fleet
	systems map[string]string // good, alt, spare, broken, holding, boot1, boot2, halting -> store path
	err     error
}

func TestMain(m *testing.M) {
	code := m.Run()
	if shared.fleet != nil {
		if err := shared.fleet.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop test hosts:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// fixture starts the shared fleet and builds the stub systems. Missing
// requirements fail the test with the install command; they never skip it.
func fixture(t *testing.T) (*testhosts.Fleet, map[string]string) {
	t.Helper()
	shared.once.Do(func() {
		shared.systems, shared.err = buildSystems()
		if shared.err != nil {
			return
		}
		shared.fleet, shared.err = testhosts.Start(context.Background(), testhosts.Options{N: 3})
	})
	if shared.err != nil {
		t.Fatal(shared.err)
	}
	return shared.fleet, shared.systems
}

func buildSystems() (map[string]string, error) {
	if err := testhosts.Check(); err != nil {
		return nil, err
	}
	names := []string{"good", "alt", "spare", "broken", "holding", "boot1", "boot2", "halting"}
	args := []string{"--no-out-link", "--option", "substituters", "", "testdata/systems.nix"}
	for _, n := range names {
		args = append(args, "-A", n)
	}
	var stderr strings.Builder
	cmd := exec.Command("nix-build", args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return nil, fmt.Errorf("build stub systems: %w: %s", err, stderr.String())
	}
	systems := map[string]string{}
	for _, p := range strings.Fields(string(out)) {
		for _, n := range names {
			if strings.HasSuffix(p, "-ferry-test-system-"+n) {
				systems[n] = p
			}
		}
	}
	if len(systems) != len(names) {
		return nil, fmt.Errorf("build stub systems: got %q", out)
	}
	return systems, nil
}
