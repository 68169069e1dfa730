package testhosts

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Fault injection for tests of what ferry does when a host changes under
// it: Restart restarts a host's sshd, optionally with a new host key (a
// reinstalled machine) or a session environment (e.g. a PATH without the
// Nix tools); RunInHost runs a command inside a host's mount namespace
// (e.g. to mount a small tmpfs over its /nix/store). The client's
// authorized key is the file AuthorizedKeysFile, which a test may rewrite
// at any time (sshd reads it at every login).

// RestartOptions change a host when Restart starts it again.
type RestartOptions struct {
	// NewHostKey gives the host a new ed25519 host key, as a reinstalled
	// machine has. Fleet.Hosts, SSHConfigFile and its known_hosts file
	// get the new key.
	NewHostKey bool
	// SetEnv are NAME=VALUE pairs sshd sets in every session from now on
	// (sshd_config SetEnv, which overrides sshd's default PATH), kept
	// across reboots. Each Restart replaces them: nil means none.
	SetEnv []string
}

// AuthorizedKeysFile is the host's /root/.ssh/authorized_keys, as seen from
// outside the host.
func (h Host) AuthorizedKeysFile() string {
	return filepath.Join(h.Root, "root", ".ssh", "authorized_keys")
}

// Restart stops the host named name as Stop does and starts it again on the
// same address and port, with opts applied. Its /nix, /run, /root and boot
// ID are kept: this restarts sshd, it is not a reboot (what was mounted with
// RunInHost is gone, though: the host gets a new mount namespace). A halted
// host is started again. It returns the host as it is now.
func (f *Fleet) Restart(name string, opts RestartOptions) (Host, error) {
	for _, kv := range opts.SetEnv {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\"\n\\") {
			return Host{}, fmt.Errorf("restart test host %s: bad SetEnv %q (want NAME=VALUE without quotes, backslashes or newlines)", name, kv)
		}
	}
	st, h, err := f.lookup(name)
	if err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	defer st.op.Unlock()
	if err := f.halt(st); err != nil {
		return Host{}, err
	}
	if opts.NewHostKey {
		_, key, err := writeKey(filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key"), "root@"+h.Name)
		if err != nil {
			return Host{}, fmt.Errorf("restart test host %s: host %w", name, err)
		}
		h.HostKey = key
		f.setHost(h)
	}
	if err := writeSSHDConfigEnv(h, opts.SetEnv); err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	if err := f.launchAndWait(context.Background(), h, st); err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	if err := f.writeSSHConfig(); err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	return h, nil
}

// RunInHost runs argv as root in the mount namespace of the host named
// name, where /nix, /run, /root and /etc/nix are the host's, and returns its
// combined output. What it mounts there is seen by the host only, not from
// outside (Host.StorePath and HasPath no longer see what is under such a
// mount), and is gone when the host stops.
func (f *Fleet) RunInHost(name string, argv ...string) ([]byte, error) {
	if len(argv) == 0 {
		return nil, errors.New("run on test host: no command")
	}
	f.mu.Lock()
	var p *hostProcess
	if st := f.states[name]; st != nil {
		p = st.proc
	}
	f.mu.Unlock()
	if p == nil {
		return nil, fmt.Errorf("run on test host %s: no such host", name)
	}
	pid := p.sshdPID
	select {
	case <-p.exited:
		pid = 0
	default:
	}
	if pid <= 0 {
		return nil, fmt.Errorf("run on test host %s: the host is not running", name)
	}
	var out bytes.Buffer
	cmd := exec.Command("nsenter", append([]string{"--target", strconv.Itoa(pid), "--mount", "--"}, argv...)...)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return out.Bytes(), fmt.Errorf("run %s on test host %s: %w: %s", strings.Join(argv, " "), name, err, strings.TrimSpace(out.String()))
	}
	return out.Bytes(), nil
}

// lookup finds the host named name and takes its op lock, which the
// caller releases.
func (f *Fleet) lookup(name string) (*hostState, Host, error) {
	f.mu.Lock()
	st := f.states[name]
	f.mu.Unlock()
	if st == nil {
		return nil, Host{}, errors.New("no such host")
	}
	st.op.Lock()
	h, ok := f.Host(name)
	f.mu.Lock()
	removed := st.removed
	f.mu.Unlock()
	if !ok || removed {
		st.op.Unlock()
		return nil, Host{}, errors.New("no such host")
	}
	return st, h, nil
}

// setHost replaces the fleet's record of the host named h.Name.
func (f *Fleet) setHost(h Host) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.Hosts {
		if f.Hosts[i].Name == h.Name {
			f.Hosts[i] = h
		}
	}
}
