package testhosts

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/remote"
)

// Host is one test host.
type Host struct {
	Name    string // also its hostname
	Addr    string // 127.0.0.N
	Port    int
	HostKey string // authorized_keys form, to pin
	Root    string // B/NAME: the host's nix, run, root, etc-nix, sshd folders
	// Kind is what the host runs (install.go): a NixOS-like host (""), a
	// rescue system, a booted NixOS installer, or the system installed
	// on its disk.
	Kind Kind
	// NoNix is a rescue system without Nix binaries (HostOptions.NoNix).
	NoNix bool
	// Disk is the host's loop device (/dev/loopN) when it has a disk
	// (HostOptions.DiskSize), "" otherwise.
	Disk string
	// NetNS is the network namespace the host runs in (HostOptions.NetNS);
	// "" for the machine's own.
	NetNS string
}

// Address is Addr:Port.
func (h Host) Address() string { return net.JoinHostPort(h.Addr, strconv.Itoa(h.Port)) }

// Target reaches the host as root with its host key pinned.
func (h Host) Target() remote.Target {
	return remote.Target{Host: h.Addr, Port: h.Port, User: "root", HostKey: h.HostKey}
}

// SSHDLog is the path of the host's sshd log.
func (h Host) SSHDLog() string { return filepath.Join(h.Root, "sshd.log") }

// AcceptedLogins counts "Accepted publickey" lines in the sshd log: the
// number of SSH connections the host accepted so far.
func (h Host) AcceptedLogins() (int, error) {
	b, err := os.ReadFile(h.SSHDLog())
	if err != nil {
		return 0, fmt.Errorf("read sshd log of %s: %w", h.Name, err)
	}
	return bytes.Count(b, []byte("Accepted publickey")), nil
}

// StorePath is where the host's store path p (/nix/store/...) lives on this
// machine.
func (h Host) StorePath(p string) string { return filepath.Join(h.Root, p) }

// HasPath reports whether the host's store holds p.
func (h Host) HasPath(p string) bool {
	_, err := os.Lstat(h.StorePath(p))
	return err == nil
}

// CurrentSystem is the store path the host's /run/current-system points to,
// "" when there is none.
func (h Host) CurrentSystem() (string, error) {
	target, err := os.Readlink(filepath.Join(h.Root, "run", "current-system"))
	if errors.Is(err, os.ErrNotExist) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("read current system of %s: %w", h.Name, err)
	}
	return target, nil
}

// SystemProfile is the store path the host's system profile
// (/nix/var/nix/profiles/system) resolves to, "" when there is none.
func (h Host) SystemProfile() (string, error) {
	p := remote.SystemProfile
	for range 16 {
		if strings.HasPrefix(p, "/nix/store/") && strings.Count(p, "/") == 3 {
			return p, nil
		}
		target, err := os.Readlink(filepath.Join(h.Root, p))
		if errors.Is(err, os.ErrNotExist) && p == remote.SystemProfile {
			return "", nil
		}
		if err != nil {
			return "", fmt.Errorf("read system profile of %s: %w", h.Name, err)
		}
		if !filepath.IsAbs(target) {
			target = filepath.Join(filepath.Dir(p), target)
		}
		p = target
	}
	return "", fmt.Errorf("read system profile of %s: too many links", h.Name)
}
