// Package testhosts runs NixOS-like test hosts on this machine for tests and
// demos: one OpenSSH sshd per host, each in its own mount, PID and UTS
// namespace with its own /nix (an empty store), /run, /root and /etc/nix,
// listening on a loopback address 127.0.0.N (the recipe in TESTING.md,
// loopback mode: no network namespaces).
//
// It owns starting and stopping such fleets, generating their host keys and
// the client key, and reading a host's state from outside (its current
// system, its system profile, its sshd log).
//
// It must not be used by production code, must never signal a process it did
// not start, and must not mount anything outside the hosts' namespaces. The
// hosts share /etc, /usr, /var and /tmp with the machine, so nothing run on a
// host may write /etc.
//
// Requirements (root, unshare, mount, /usr/sbin/sshd, nix-store) are checked
// first; when one is missing Start fails with the apt-get command that
// installs it, so tests fail rather than skip. install-deps.sh beside this
// file installs them when missing.
package testhosts
