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
//     must match, otherwise *HostKeyMismatchError (Want, Got, Fingerprints);
//     without one the key seen first is trusted and reported (Conn.HostKey,
//     Dialer.HostKeys) so that the caller can pin it in state;
//     Dialer.ScanHostKey (the key a host presents, without logging in),
//     ParseHostKey (authorized_keys form or a known_hosts line) and
//     KnownHostsLine;
//   - Conn.Run with *ExitError carrying the tail of the output, and Quote /
//     Command for building shell commands from arguments;
//   - Probe: in one command, what plan needs to know about a host
//     (HostFacts: current system, system profile, booted system, boot ID,
//     clock, pending watchdogs);
//   - CurrentSystem, CopyClosure, Activate, Generations and Rollback, which
//     shell out to the local nix-store and to nix-store / nix-env on the host;
//   - Substitute: the host fetches what a PreparedCopy would send from
//     its substituters (or one fleet cache, trusting its key for that
//     command only) with tight fetch limits, --keep-going; the copy is
//     rechecked (PreparedCopy.Recheck) so that Stream pushes the rest;
//   - UploadKey (NixOps deployment.keys), RunHostCheck (health checks),
//     Dialer.DialFresh (a new login, unshared, to prove logins still work);
//   - the rollback watchdog (ArmWatchdog, Start, Confirm, Trigger, Disarm,
//     Wait, DisarmPending), deploy-rs's "magic rollback";
//   - BootID, BootedFiles / BootFiles.Changes (does the next system need a
//     reboot?) and Dialer.Reboot.
//
// It must not import engine (engine/spec is allowed) or lang, and it keeps no
// package-level mutable state: everything a run needs lives in its Dialer.
// It never turns host key checking off (ScanHostKey accepts any key only to
// report it, and never authenticates over it) and never builds a command by
// pasting user strings together: every argument goes through Quote.
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
//     PrepareCopy and PreparedCopy.Stream are its two halves, so that a
//     caller bounding concurrent copies bounds only the transfer.
//   - CopyBetween copies a closure from one host (a build host) to another
//     directly: the second fetches it with nix-copy-closure --from, through
//     a one-time key the first accepts only for a read-only nix-store
//     --serve, and trusts only the first host's key ferry verified.
//   - A cancelled Run returns within half a second even when the command
//     goes on: OpenSSH refuses signal requests in some setups (root on
//     9.2: "session signalling requires privilege separation") and keeps the
//     channel until the command exits. Long commands are therefore also
//     bounded on the host (RunHostCheck uses timeout(1)). The caller's
//     streams are not touched after Run returns.
//   - Activate and RunHostCheck merge stderr into stdout on the host, so
//     that the last output lines in errors keep the order they were written.
//   - Keys travel on stdin only, never in a command line, an error or
//     ExitError.Tail. UploadKey writes a temporary file beside the
//     destination under umask 077, sets owner and mode, checks the size
//     received and renames it over the key: readers see the old key or the
//     new one, never a half-written or wrongly owned file. /run/keys is
//     created with mode 0750 and group keys (when that group exists).
//   - Commands that need the system's tools (health checks, reboot, the
//     watchdog) put /run/current-system/sw/bin:/run/wrappers/bin first on
//     PATH. The watchdog then puts the previous system's sw/bin first and
//     remembers the previous nix-env by its store folder (nix-env is a link
//     to nix, which acts by the name it is called with): a broken new system
//     cannot take the rollback's tools away.
//   - The watchdog runs on the host as `setsid nohup sh -c SCRIPT` with
//     stdin from /dev/null and its output in its log, so it outlives the
//     SSH session (and a connection the activation cut). Its files are
//     /run/ferry/watchdog-ID.{info,state,log,decision,pid,started}.
//     Confirm, Disarm, Trigger and the timeout race to create the decision
//     symlink, whose target names the decision: symlink(2) fails when the
//     name exists, so exactly one wins and every party reads which.
//     Confirm loses to the timeout with an error saying it came too late. Without a previous
//     system it still waits, and ends in "no-previous" where it would have
//     rolled back. A rollback after switch first points the system profile
//     back to the previous generation (only if the profile moved since
//     arming) with nix-env --switch-generation, then runs the previous
//     system's switch-to-configuration with the guarded action. Wait reports
//     an error when the watchdog process died without a final state.
//   - A watchdog records what it guards in watchdog-ID.info (previous
//     system and generation, action, the system being activated, arming
//     time, timeouts) before it starts, and ArmWatchdog returns only once
//     its process wrote its pid. Its process is alive when the process of
//     that pid has the watchdog's log as standard output (a reused pid or
//     a zombie does not). A watchdog with state "pending" and no decision
//     link is pending: Probe reports it (a run was cut off between
//     activation and confirmation, and the host will roll back on its own
//     at the deadline). ArmWatchdog and DisarmPending disarm every pending
//     watchdog through its decision link first (the decision "disarmed",
//     which older watchdog scripts also read as "keep"), so that none can
//     undo the next deploy: a working connection shows that the system the
//     host runs accepts logins, which is what they waited for. A watchdog
//     that decided to roll back and still runs makes them fail with
//     ErrWatchdogRollingBack instead of racing with its rollback.
//   - Probe, CurrentSystem, Generations, BootedFiles and BootID share one
//     POSIX sh script that needs no Nix tools: it prints the sections its
//     arguments name as KEY<TAB>VALUE<NUL> records after a marker (what a
//     login shell prints first is skipped; no path holds a NUL), resolves
//     links to folders with cd -P (readlink -f without a process) and uses
//     builtins where it can, since every process costs about a millisecond
//     on a small host. A file that is missing leaves its fact unknown.
//     The watchdog scripts print their results in the same records.
//   - Host keys: Dial asks for the pinned key's type first, then the other
//     plain key types (ed25519, ECDSA, RSA; no certificates), so that a
//     host without a key of the pinned type presents another key and Dial
//     returns *HostKeyMismatchError rather than a handshake error. A
//     mismatch wins over any error seen after it (a deadline, a closed
//     connection); it is returned for the target and, wrapped, for its
//     jump host, and by Reboot at once (a reinstalled host is not waited
//     for). Dials sharing one connection attempt are each judged by their
//     own pin. ScanHostKey aborts the handshake in the host key callback, as
//     ssh-keyscan does: no authentication, nothing recorded.
//   - Reboot starts `systemctl reboot` (under systemd) or `reboot` detached,
//     a second later, so that the command returns its status first; then it
//     opens fresh connections every Poll until one reports another boot ID,
//     and puts that connection in the pool in place of the dead one. The
//     host key stays pinned across the reboot.
package remote
