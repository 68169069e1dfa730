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
	"time"
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
	i := f.index(name)
	if i < 0 {
		return Host{}, fmt.Errorf("restart test host %s: no such host", name)
	}
	for _, kv := range opts.SetEnv {
		k, _, ok := strings.Cut(kv, "=")
		if !ok || k == "" || strings.ContainsAny(kv, "\"\n\\") {
			return Host{}, fmt.Errorf("restart test host %s: bad SetEnv %q (want NAME=VALUE without quotes, backslashes or newlines)", name, kv)
		}
	}
	// Keep the reboot watcher off this host while it is down.
	f.mu.Lock()
	h := f.Hosts[i]
	p := f.procs[i]
	f.halted[i] = true
	f.mu.Unlock()
	if err := p.stop(); err != nil {
		return Host{}, err
	}
	if opts.NewHostKey {
		_, key, err := writeKey(filepath.Join(h.Root, "sshd", "ssh_host_ed25519_key"), "root@"+h.Name)
		if err != nil {
			return Host{}, fmt.Errorf("restart test host %s: host %w", name, err)
		}
		h.HostKey = key
	}
	if err := writeSSHDConfigEnv(h, opts.SetEnv); err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	np, err := f.launcher.launch(h)
	if err != nil {
		return Host{}, fmt.Errorf("restart test host %s: %w", name, err)
	}
	f.mu.Lock()
	f.procs[i] = np
	f.Hosts[i] = h
	f.mu.Unlock()
	if _, err := f.waitListening(context.Background(), []int{i}, time.Now().Add(20*time.Second), false); err != nil {
		return Host{}, err
	}
	f.mu.Lock()
	f.halted[i] = false
	f.mu.Unlock()
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
	i := f.index(name)
	if i < 0 {
		return nil, fmt.Errorf("run on test host %s: no such host", name)
	}
	if len(argv) == 0 {
		return nil, errors.New("run on test host: no command")
	}
	f.mu.Lock()
	p := f.procs[i]
	f.mu.Unlock()
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

func (f *Fleet) index(name string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i, h := range f.Hosts {
		if h.Name == name {
			return i
		}
	}
	return -1
}
