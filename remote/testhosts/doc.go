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
// Each host has its own boot ID: B/NAME/boot_id, a fresh random UUID at
// every (re)start, bind-mounted over /proc/sys/kernel/random/boot_id. Hosts
// reboot through a protocol shared with the stub systems (remote/testdata,
// providers/nix/testdata): a system's sw/bin/reboot writes "reboot" or
// "halt" to /run/ferry-test/reboot-request. The fleet polls for it every
// 100 ms until Stop. On "reboot" it stops the host as Stop does, empties its
// /run except run/sshd (as a tmpfs would be), writes a new boot ID, points
// run/booted-system and run/current-system at the system to boot (the target
// of run/ferry-test/boot-system if it existed, which switch and boot set,
// else the system profile), and starts the host again on the same address
// and port; Fleet.Reboots counts these. On "halt" it only stops the host.
// At first start a host has no booted-system. Reboot and halt failures are
// reported by Stop.
//
// Hosts can also live as cloud machines do (Options.Empty starts a fleet
// without any): Fleet.Add starts a host on a given loopback address and
// port (22 works: tests run as root) with a given ed25519 host key and
// root's authorized_keys; Fleet.Halt stops it as a power-off does, keeping
// its /nix, /root and keys; Fleet.Boot starts it again as a reboot does
// (a fresh /run, a new boot ID, the boot entry running); Fleet.Remove
// stops it and deletes its folder; Fleet.Up says whether it runs. The
// providers/aws test bed mirrors moto's instances onto hosts this way.
//
// Hosts to install NixOS on (install.go): HostOptions.Kind adds a rescue
// system or a booted NixOS installer (an empty writable tmpfs /nix, an
// empty /etc/nix), HostOptions.DiskSize a loop-device disk recorded like
// a PID and detached at Remove and Stop; Fleet.Kexec (or kexec-installer
// run on the host) restarts it into the installer, and a reboot of a host
// whose disk holds a boot entry boots the installed system from it
// (Host.Kind KindDisk). Their sessions find stand-ins for reboot and
// nixos-install first on PATH.
//
// Hosts can also run in network namespaces (HostOptions.NetNS): Network
// makes a private /24 on a bridge in its own namespace, one namespace per
// Node, and an uplink from this machine that tc tbf may limit (TESTING.md,
// "A limited uplink"); ListenIn opens a listener inside a node (a cache
// server the hosts reach over the bridge). Close deletes the namespaces.
//
// For fault injection, Fleet.Restart restarts a host's sshd on the same
// address and port, keeping its /nix, /run and boot ID, optionally with a new
// host key or a session environment (sshd SetEnv, e.g. a PATH without
// nix-store); Fleet.RunInHost runs a command in a host's mount namespace
// (e.g. to mount a small tmpfs over its /nix/store, seen by that host only);
// Host.AuthorizedKeysFile may be rewritten to refuse the client key.
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
