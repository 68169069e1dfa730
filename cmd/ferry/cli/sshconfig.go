package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"slices"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// The user's OpenSSH client configuration (~/.ssh/config, --ssh-config)
// is applied to the configuration's ssh() targets right after loading, so
// that plans show, state records and every command dials the endpoint
// OpenSSH would. For a target whose host is a literal name (not a
// reference known only after apply), and for each of its jump hosts:
//   - HostName replaces the host;
//   - Port and User apply when ssh() left port and user out: what the
//     configuration gives always wins, and ferry's defaults (22, root)
//     apply only when neither sets them (so a `Host *` block's `User me`
//     is used unless ssh() says user = "root");
//   - ProxyJump becomes the jump chain when ssh() gives no jump; each jump
//     host is looked up too;
//   - IdentityFile keys are tried after --ssh-key (or the default keys)
//     and ssh-agent, a missing one skipped;
//   - a directive that changes how OpenSSH connects and that ferry does
//     not implement (ProxyCommand, ...) is warned about once and ignored.

// sshConfigNone turns the SSH client configuration off (--ssh-config none).
const sshConfigNone = "none"

// sshClientConfig reads --ssh-config, else ~/.ssh/config from $HOME as
// LookupEnv sees it; nil when there is none to read.
func (a *App) sshClientConfig() (*remote.SSHConfig, error) {
	if a.sshConf != nil || a.SSHConfig == sshConfigNone {
		return a.sshConf, nil
	}
	path := a.path(a.SSHConfig)
	home, _ := a.home()
	if path == "" {
		if home == "" {
			return nil, nil
		}
		path = filepath.Join(home, ".ssh", "config")
	} else if _, err := os.Stat(path); err != nil {
		// Given (--ssh-config, FERRY_SSH_CONFIG): it must be there.
		return nil, fmt.Errorf("--ssh-config %s: %w (relative paths are taken from -C DIR; \"none\" reads none)", a.SSHConfig, err)
	}
	c, err := remote.LoadSSHConfig(path, home)
	if err != nil {
		return nil, err
	}
	a.sshConf = c
	return c, nil
}

// applySSHConfig rewrites cfg's ssh() targets by the SSH client
// configuration and remembers its identity files for the run's dialers.
func (a *App) applySSHConfig(cfg *spec.Config) error {
	sc, err := a.sshClientConfig()
	if err != nil || sc == nil {
		return err
	}
	for _, m := range cfg.Machines {
		if err := a.resolveSSHTarget(sc, &m.Target, 0); err != nil {
			return fmt.Errorf("%s: %s: %w", m.Pos, m.Addr, err)
		}
	}
	return nil
}

// nixTargetSSHConfig applies the SSH client configuration to a target a
// machine's deployment.targetHost, targetPort and targetUser give once
// evaluated (engine.Engine.SSHConfig), as applySSHConfig does to ssh()
// targets. The IdentityFile keys of such a host are not tried: the
// dialer was made before the host was known.
func (a *App) nixTargetSSHConfig(t *spec.Target) error {
	sc, err := a.sshClientConfig()
	if err != nil || sc == nil {
		return err
	}
	return a.resolveSSHTarget(sc, t, 0)
}

// maxJumps bounds ProxyJump chains that name each other.
const maxJumps = 8

func (a *App) resolveSSHTarget(sc *remote.SSHConfig, t *spec.Target, depth int) error {
	if t.Kind != "" && t.Kind != "ssh" {
		return nil
	}
	if depth > maxJumps {
		return fmt.Errorf("more than %d jump hosts: do ProxyJump entries in %s name each other?", maxJumps, sc.Path())
	}
	if _, ref := t.Refs["host"]; !ref && t.Host != "" {
		h, err := sc.Host(t.Host)
		if err != nil {
			return err
		}
		for _, d := range h.Unsupported {
			a.warnOnce("ssh_config "+d, fmt.Sprintf("warning: %s: %s (for host %s) is not supported by ferry's SSH and is ignored; use ProxyJump, or give the machine's target in ssh()", sc.Path(), d, t.Host))
		}
		if slices.Contains(t.Defaults, "port") && h.Port != 0 {
			t.Port = h.Port
		}
		if slices.Contains(t.Defaults, "user") && h.User != "" {
			t.User = h.User
		}
		if t.Jump == nil && len(h.ProxyJump) > 0 {
			var jump *spec.Target
			for _, hop := range h.ProxyJump { // the first hop is reached first
				j := spec.Target{Kind: "ssh", Host: hop.Host, Port: hop.Port, User: hop.User, Jump: jump, Pos: t.Pos}
				if j.Port == 0 {
					j.Port = remote.DefaultPort
					j.Defaults = append(j.Defaults, "port")
				}
				if j.User == "" {
					j.User = remote.DefaultUser
					j.Defaults = append(j.Defaults, "user")
				}
				jump = &j
			}
			t.Jump = jump
		}
		for _, f := range h.IdentityFiles {
			if !slices.Contains(a.sshIdentities, f) {
				a.sshIdentities = append(a.sshIdentities, f)
			}
		}
		if h.HostName != "" {
			t.Host = h.HostName
		}
	}
	if t.Jump != nil {
		return a.resolveSSHTarget(sc, t.Jump, depth+1)
	}
	return nil
}

// warnOnce writes msg to stderr the first time key is seen in this run.
func (a *App) warnOnce(key, msg string) {
	if a.warned == nil {
		a.warned = map[string]bool{}
	}
	if a.warned[key] {
		return
	}
	a.warned[key] = true
	fmt.Fprintln(a.Stderr, msg)
}
