package remote

import (
	"context"
	"fmt"
	"path"
	"strconv"
	"time"
)

// Activate activates the system at storePath on the host. For switch and
// boot it first points the system profile at storePath (a new generation);
// then it runs storePath/bin/switch-to-configuration ACTION. test and
// dry-activate leave the profile alone. Failures are *ExitError (wrapped)
// carrying the last lines of output.
func Activate(ctx context.Context, conn *Conn, storePath, action string) error {
	return activate(ctx, conn, storePath, action, nixTools())
}

func activate(ctx context.Context, conn *Conn, storePath, action string, tools remoteTools) error {
	host := conn.target.Name()
	switch action {
	case ActionSwitch, ActionBoot, ActionTest, ActionDryActivate:
	default:
		return fmt.Errorf("activate %s on %s: unknown action %q (want switch, boot, test or dry-activate)", storePath, host, action)
	}
	if !path.IsAbs(storePath) {
		return fmt.Errorf("activate %q on %s: not an absolute store path", storePath, host)
	}
	switchBin := path.Join(storePath, "bin", "switch-to-configuration")
	check := fmt.Sprintf("[ -x %s ] || { echo %s >&2; exit 1; }; ", Quote(switchBin),
		Quote(switchBin+" is missing on the host: copy the closure first, and check that it is a NixOS system"))

	if action == ActionSwitch || action == ActionBoot {
		setProfile := check + requireTool(tools.nixEnv) + Command(tools.nixEnv, "-p", SystemProfile, "--set", storePath)
		if err := conn.Run(ctx, setProfile, RunOptions{}); err != nil {
			return fmt.Errorf("set system profile of %s to %s: %w", host, storePath, asNotFound(err, tools.nixEnv))
		}
		check = ""
	}
	// 2>&1: one stream keeps the last lines in the order they were written,
	// which two SSH streams do not (the error line could come before the
	// progress lines printed ahead of it).
	if err := conn.Run(ctx, check+Command(switchBin, action)+" 2>&1", RunOptions{}); err != nil {
		return fmt.Errorf("switch-to-configuration %s on %s: %w", action, host, err)
	}
	return nil
}

// Generation is one generation of a host's system profile.
type Generation struct {
	Number  int
	Path    string // store path of the system
	Date    time.Time
	Current bool // the profile points to it
}

// CurrentGeneration is the generation the system profile points to.
func CurrentGeneration(gens []Generation) (Generation, bool) {
	for _, g := range gens {
		if g.Current {
			return g, true
		}
	}
	return Generation{}, false
}

// Generations lists the generations of the host's system profile, oldest
// first, the one the profile points to marked Current.
func Generations(ctx context.Context, conn *Conn) ([]Generation, error) {
	r, err := probe(ctx, conn, probeGenerations, probeProfile)
	if err != nil {
		return nil, fmt.Errorf("list system generations of %s: %w", conn.target.Name(), err)
	}
	return r.generations, nil
}

// Rollback points the system profile at generation gen (0 means the one
// before the current one) and switches to it.
func Rollback(ctx context.Context, conn *Conn, gen int) error {
	host := conn.target.Name()
	tools := nixTools()
	args := []string{tools.nixEnv, "-p", SystemProfile, "--rollback"}
	what := "the previous generation"
	if gen > 0 {
		args = []string{tools.nixEnv, "-p", SystemProfile, "--switch-generation", strconv.Itoa(gen)}
		what = fmt.Sprintf("generation %d", gen)
	}
	if err := conn.Run(ctx, requireTool(tools.nixEnv)+Command(args...), RunOptions{}); err != nil {
		return fmt.Errorf("roll %s back to %s: %w", host, what, asNotFound(err, tools.nixEnv))
	}
	switchBin := SystemProfile + "/bin/switch-to-configuration"
	if err := conn.Run(ctx, Command(switchBin, ActionSwitch), RunOptions{}); err != nil {
		return fmt.Errorf("roll %s back to %s: switch-to-configuration switch: %w", host, what, err)
	}
	return nil
}
