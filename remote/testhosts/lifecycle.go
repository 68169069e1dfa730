package testhosts

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// A host's life as a cloud machine has it, for test beds that mirror a
// cloud's instances onto test hosts (providers/aws/awstest): Add starts a
// host on a given address with a given host key and authorized keys, Halt
// stops it keeping its disk (/nix, /root, its keys), Boot starts it again
// as a machine boots (a fresh /run, a new boot ID, the boot entry as the
// running system), and Remove stops it and deletes it.

// HostOptions describe a host that Add starts.
type HostOptions struct {
	// Name is the host's name and hostname; it must be new to the fleet.
	Name string
	// Addr is the IPv4 loopback address (in 127.0.0.0/8) sshd listens on.
	Addr string
	// Port sshd listens on; 0 picks a free port. Port 22 works on a
	// loopback address other than the system sshd's (tests run as root).
	Port int
	// HostKey is the host's ed25519 private key in OpenSSH form (PEM);
	// nil makes a new one. Host.HostKey is its public key.
	HostKey []byte
	// AuthorizedKeys is root's authorized_keys file; "" authorizes the
	// fleet's client key only.
	AuthorizedKeys string
	// Kind is what the host runs: KindNixOS (the default), KindRescue or
	// KindInstaller (install.go).
	Kind Kind
	// NoNix, for a KindRescue host, hides the Nix binaries from its
	// sessions (a plain rescue system): an overlay on /usr/bin whose upper
	// folder holds a whiteout per Nix binary. The installer it kexecs
	// into has them again.
	NoNix bool
	// DiskSize, when positive, gives the host a disk of that many bytes:
	// a loop device attached at Add, detached at Remove and Stop
	// (Host.Disk).
	DiskSize int64
	// NetNS, when set, is the network namespace (ip netns, e.g. a
	// Network.Node) the host runs in; Addr is then its address there
	// and Port must be given.
	NetNS string
}

// Add creates the host opts describe, starts it and waits until its sshd
// listens. On error nothing of it is left running.
func (f *Fleet) Add(ctx context.Context, opts HostOptions) (Host, error) {
	name := opts.Name
	if name == "" || strings.ContainsAny(name, "/ \t\n") || name[0] == '.' {
		return Host{}, fmt.Errorf("add test host: bad host name %q", name)
	}
	addr, err := netip.ParseAddr(opts.Addr)
	if opts.NetNS != "" && (err != nil || !addr.Is4() || opts.Port == 0) {
		return Host{}, fmt.Errorf("add test host %s: in network namespace %s, give an IPv4 address and a port (got %q, %d)", name, opts.NetNS, opts.Addr, opts.Port)
	}
	if opts.NetNS == "" && (err != nil || !addr.Is4() || !addr.IsLoopback()) {
		return Host{}, fmt.Errorf("add test host %s: address %q is not an IPv4 loopback address (127.0.0.0/8)", name, opts.Addr)
	}
	authorized := opts.AuthorizedKeys
	if authorized == "" {
		authorized = f.ClientPublicKey
	}
	if !strings.HasSuffix(authorized, "\n") {
		authorized += "\n"
	}
	if !opts.Kind.valid() || opts.Kind == KindDisk {
		return Host{}, fmt.Errorf("add test host %s: kind %q: want %q, %q or %q", name, opts.Kind, KindNixOS, KindRescue, KindInstaller)
	}
	if opts.NoNix && opts.Kind != KindRescue {
		return Host{}, fmt.Errorf("add test host %s: NoNix is for rescue hosts, not %q", name, opts.Kind)
	}
	h := Host{Name: name, Addr: addr.String(), Port: opts.Port, Root: filepath.Join(f.Base, name), Kind: opts.Kind, NetNS: opts.NetNS, NoNix: opts.NoNix}
	st := &hostState{halted: true}
	st.op.Lock()
	defer st.op.Unlock()
	f.mu.Lock()
	if f.states[name] != nil {
		f.mu.Unlock()
		return Host{}, fmt.Errorf("add test host %s: the fleet has a host of that name", name)
	}
	if i := slices.IndexFunc(f.Hosts, func(o Host) bool { return o.Addr == h.Addr && (o.Port == h.Port || h.Port == 0) }); i >= 0 {
		f.mu.Unlock()
		return Host{}, fmt.Errorf("add test host %s: %s already serves %s", name, f.Hosts[i].Name, f.Hosts[i].Address())
	}
	f.states[name] = st
	f.mu.Unlock()

	fail := func(err error) (Host, error) {
		f.mu.Lock()
		delete(f.states, name)
		f.mu.Unlock()
		if st.proc != nil {
			err = errors.Join(err, st.proc.stop())
		}
		if st.disk != "" {
			err = errors.Join(err, detachDisk(st.disk, h.DiskImage()))
		}
		return Host{}, errors.Join(fmt.Errorf("add test host %s: %w", name, err), os.RemoveAll(h.Root))
	}
	if err := ctx.Err(); err != nil {
		return fail(err)
	}
	if err := f.prepareWith(&h, opts.HostKey, authorized); err != nil {
		return fail(err)
	}
	if h.Kind != KindNixOS {
		if err := prepareInstallKind(h); err != nil {
			return fail(err)
		}
	}
	if opts.DiskSize > 0 {
		if h.Disk, err = attachDisk(h, opts.DiskSize); err != nil {
			return fail(err)
		}
		st.disk = h.Disk
	}
	if h.Port == 0 {
		if h.Port, err = freePort(h.Addr); err != nil {
			return fail(err)
		}
	}
	if err := writeSSHDConfig(h); err != nil {
		return fail(err)
	}
	if err := writeBootID(h); err != nil {
		return fail(err)
	}
	if err := f.launchAndWait(ctx, h, st); err != nil {
		return fail(err)
	}
	f.mu.Lock()
	f.Hosts = append(f.Hosts, h)
	f.mu.Unlock()
	if err := f.writeSSHConfig(); err != nil {
		return h, fmt.Errorf("add test host %s: %w", name, err)
	}
	return h, nil
}

// Halt stops the host named name as a machine powers off: its /nix,
// /root and keys stay for Boot; its /run too, until Boot empties it.
// Halting a halted host does nothing.
func (f *Fleet) Halt(name string) error {
	st, _, err := f.lookup(name)
	if err != nil {
		return fmt.Errorf("halt test host %s: %w", name, err)
	}
	defer st.op.Unlock()
	if err := f.halt(st); err != nil {
		return fmt.Errorf("halt test host %s: %w", name, err)
	}
	return nil
}

// Boot starts the halted host named name as a machine boots (as a reboot
// does, see the package doc): a fresh /run, a new boot ID, its boot entry
// as the running system. It returns once sshd listens. Booting a running
// host is an error: reboot it instead.
func (f *Fleet) Boot(ctx context.Context, name string) (Host, error) {
	st, h, err := f.lookup(name)
	if err != nil {
		return Host{}, fmt.Errorf("boot test host %s: %w", name, err)
	}
	defer st.op.Unlock()
	if f.Up(name) {
		return Host{}, fmt.Errorf("boot test host %s: it is running", name)
	}
	if err := ctx.Err(); err != nil {
		return Host{}, fmt.Errorf("boot test host %s: %w", name, err)
	}
	if err := f.boot(ctx, h, st); err != nil {
		return Host{}, fmt.Errorf("boot test host %s: %w", name, err)
	}
	return h, nil
}

// Remove stops the host named name and deletes it with its folder, as a
// terminated machine is gone. Removing a host that is not there is an
// error.
func (f *Fleet) Remove(name string) error {
	st, h, err := f.lookup(name)
	if err != nil {
		return fmt.Errorf("remove test host %s: %w", name, err)
	}
	defer st.op.Unlock()
	if err := f.halt(st); err != nil {
		return fmt.Errorf("remove test host %s: %w", name, err)
	}
	f.mu.Lock()
	st.removed = true
	delete(f.states, name)
	f.Hosts = slices.DeleteFunc(f.Hosts, func(o Host) bool { return o.Name == name })
	f.mu.Unlock()
	var detach error
	if st.disk != "" {
		detach = detachDisk(st.disk, h.DiskImage())
	}
	return errors.Join(detach, f.writeSSHConfig(), os.RemoveAll(h.Root))
}

// Up reports whether the host named name is running: started, not halted,
// and its sshd has not exited.
func (f *Fleet) Up(name string) bool {
	f.mu.Lock()
	defer f.mu.Unlock()
	st := f.states[name]
	if st == nil || st.halted || st.removed || st.proc == nil {
		return false
	}
	select {
	case <-st.proc.exited:
		return false
	default:
		return true
	}
}

// startTimeout bounds how long a host's sshd may take to listen after
// Add, Boot, Restart or a reboot.
const startTimeout = 20 * time.Second
