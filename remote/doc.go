// Package remote is ferry's own SSH client and the Nix operations that run over
// it: connecting to machines (one reused connection per target for a whole run,
// pinned host keys, jump hosts), running commands, copying closures and
// activating systems.
//
// It owns:
//   - Target, the neutral description of how a machine is reached;
//   - Dialer, the per-run connection pool: one SSH connection per target,
//     sessions multiplexed over it, safe for concurrent use;
//   - the host key policy: a pinned key (Target.HostKey or Options.KnownHostKeys)
//     must match, otherwise *HostKeyMismatchError; without one the key seen
//     first is trusted and reported (Conn.HostKey, Dialer.HostKeys) so that the
//     caller can pin it in state;
//   - Conn.Run with *ExitError carrying the tail of the output, and Quote /
//     Command for building shell commands from arguments;
//   - CurrentSystem, CopyClosure, Activate, Generations and Rollback, which
//     shell out to the local nix-store and to nix-store / nix-env on the host.
//
// It must not import engine (engine/spec is allowed) or lang, and it keeps no
// package-level mutable state: everything a run needs lives in its Dialer.
// It never turns host key checking off and never builds a command by pasting
// user strings together: every argument goes through Quote.
//
// Decisions:
//   - Commands are POSIX shell strings run by the login shell on the host; with
//     Target.Sudo they run as `sudo -n -- sh -c CMD` (never prompting).
//   - OpenSSH allows 10 sessions per connection by default, so a connection
//     runs at most Options.MaxSessions (default 8) sessions at once; further
//     Runs wait for a free slot instead of opening a second connection.
//   - CopyClosure asks the host which paths it lacks in one round trip and
//     streams `nix-store --export` into `nix-store --import` over the same
//     connection: unsigned paths are fine and no second SSH client is spawned.
package remote
