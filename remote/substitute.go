package remote

import (
	"context"
	"errors"
	"fmt"
	"strings"
)

// SubstituteOptions says where a host substitutes from.
type SubstituteOptions struct {
	// Substituter, when set, is the only substituter of the command (a
	// fleet cache), and TrustedKey the public key the host trusts for
	// that command only. Empty: the host's own substituters and keys.
	Substituter string
	TrustedKey  string
}

// Fetch limits of a substitution: a cache that refuses, fails or never
// answers costs a host a few seconds before ferry pushes instead
// (TESTING.md measured 2.4-3.4 s for a cache that never answers).
const (
	substituteConnectTimeout = 2 // seconds: connect-timeout
	substituteStallTimeout   = 3 // seconds: stalled-download-timeout
	substituteJobs           = 16
)

// SubstituteStats says what a Substitute fetched.
type SubstituteStats struct {
	Missing int // store paths the host lacked before
	Fetched int // of them, fetched by the host
}

// Substitute has the host fetch the paths c would send from its
// substituters (nix-store --realise, as `nix copy
// --substitute-on-destination` does), with tight fetch limits for that
// command only: connect-timeout, stalled-download-timeout, one download
// attempt and no negative narinfo cache (a host that asked too early
// would otherwise refuse the cache for an hour). It fetches what it can
// (--keep-going), also the dependencies of a path it cannot fetch;
// the error says why the rest could not be fetched, and
// the stats how much was. c is then rechecked (PreparedCopy.Recheck):
// its Stream pushes what is still missing.
func Substitute(ctx context.Context, c *PreparedCopy, opts SubstituteOptions) (SubstituteStats, error) {
	var st SubstituteStats
	conn := c.conn
	st.Missing, _ = c.Missing()
	if st.Missing == 0 {
		return st, nil
	}
	args := []string{"nix-store", "--realise", "--keep-going",
		"--option", "connect-timeout", fmt.Sprint(substituteConnectTimeout),
		"--option", "stalled-download-timeout", fmt.Sprint(substituteStallTimeout),
		"--option", "download-attempts", "1",
		"--option", "narinfo-cache-negative-ttl", "0",
		// Before max-substitution-jobs (Nix 2.16, NixOS/nix#8299),
		// max-jobs (default 1) bounds parallel substitutions too: fetch
		// several NARs at once.
		"--max-jobs", fmt.Sprint(substituteJobs),
	}
	if c.tools.store != "" {
		// Into the store the copy goes to (an installer's /mnt).
		args = append(args, "--store", c.tools.store)
	}
	if opts.Substituter != "" {
		args = append(args, "--option", "substituters", opts.Substituter)
	}
	if opts.TrustedKey != "" {
		args = append(args, "--option", "extra-trusted-public-keys", opts.TrustedKey)
	}
	// Every missing path is asked for, not only the closure's top: Nix
	// does not fetch the references of a path the cache lacks. They travel on
	// stdin (set -f: store path names may contain '?').
	script := requireTool("nix-store") + "set -f; exec " + Command(args...) + " $(cat) 2>&1"
	runErr := conn.Run(ctx, script, RunOptions{Stdin: strings.NewReader(strings.Join(c.missing, "\n") + "\n")})
	if err := c.Recheck(ctx); err != nil {
		return st, err
	}
	left, _ := c.Missing()
	st.Fetched = st.Missing - left
	if runErr != nil {
		return st, fmt.Errorf("substitute on %s: %w", conn.target.Name(), asNotFound(runErr, "nix-store"))
	}
	return st, nil
}

// SubstituteReason is the short reason of a failed substitution for a
// summary: the first download problem Nix warned about ("unable to
// download 'URL': Couldn't connect to server (7)"), else the last error
// line it printed.
func SubstituteReason(err error) string {
	msg := err.Error()
	var exit *ExitError
	if errors.As(err, &exit) && exit.Tail != "" {
		msg = exit.Tail
	}
	lines := strings.Split(msg, "\n")
	for _, l := range lines {
		if l = strings.TrimSpace(l); strings.Contains(l, "unable to download") || strings.Contains(l, "HTTP error") {
			return strings.TrimPrefix(strings.TrimPrefix(l, "warning: "), "error: ")
		}
	}
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); strings.HasPrefix(l, "error:") {
			return strings.TrimPrefix(l, "error: ")
		}
	}
	return strings.TrimSpace(lines[len(lines)-1])
}
