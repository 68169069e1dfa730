package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SystemProfile is the NixOS system profile on a host.
const SystemProfile = "/nix/var/nix/profiles/system"

// Activation actions of switch-to-configuration.
const (
	ActionSwitch      = "switch"
	ActionBoot        = "boot"
	ActionTest        = "test"
	ActionDryActivate = "dry-activate"
)

// NixNotFoundError says a Nix tool is missing on the host.
type NixNotFoundError struct {
	Host string
	Tool string
}

func (e *NixNotFoundError) Error() string {
	return fmt.Sprintf("%s not found on %s: is this a NixOS host?", e.Tool, e.Host)
}

// remoteTools names the Nix commands run on hosts. Production code always
// uses nixTools(); tests substitute commands to simulate broken hosts.
type remoteTools struct {
	nixStore string
	nixEnv   string
	// store is the host's store to copy into ("" for its own): a
	// --store argument of nix-store, e.g. "local?root=/mnt".
	store string
}

// storeArg is the --store argument of nix-store, "" for the host's own.
func (t remoteTools) storeArg() string {
	if t.store == "" {
		return ""
	}
	return " --store " + Quote(t.store)
}

func nixTools() remoteTools {
	return remoteTools{nixStore: "nix-store", nixEnv: "nix-env"}
}

// notFoundMarker is printed by requireTool so that a missing tool is told
// apart from a tool that failed with status 127 for its own reasons.
const notFoundMarker = "ferry: command not found: "

// requireTool is a shell prefix that fails with status 127 and a marker when
// tool is not on the host's PATH.
func requireTool(tool string) string {
	return fmt.Sprintf("command -v %s >/dev/null 2>&1 || { echo %s >&2; exit 127; }; ",
		Quote(tool), Quote(notFoundMarker+tool))
}

// asNotFound turns the failure of a requireTool prefix into *NixNotFoundError.
func asNotFound(err error, tool string) error {
	var exit *ExitError
	if errors.As(err, &exit) && exit.Code == 127 && strings.Contains(exit.Tail, notFoundMarker+tool) {
		return &NixNotFoundError{Host: exit.Host, Tool: tool}
	}
	return err
}

// CurrentSystem returns the store path /run/current-system points to
// (readlink -f), or "" when the host has none (not NixOS, or never
// activated). Probe reads it along with the rest of what plan needs.
func CurrentSystem(ctx context.Context, conn *Conn) (string, error) {
	r, err := probe(ctx, conn, probeCurrent)
	if err != nil {
		return "", fmt.Errorf("read current system of %s: %w", conn.target.Name(), err)
	}
	return r.facts.Current, nil
}
