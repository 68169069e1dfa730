package target

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/remote"
)

// KindSSH is the kind of ssh(...) targets.
const KindSSH = "ssh"

// SSH is the driver of ssh(host, port, user, host_key, jump, sudo): a
// machine that runs NixOS and is reached over SSH (NixOps targetEnv
// "none"). Its endpoint is its arguments as they are; its host key is
// host_key (a literal, or a reference to an attribute a provider reported,
// resolved before the first login), else "" (trust on first use). It
// reboots over SSH and has no power switch.
type SSH struct{}

var _ Rebooter = SSH{}

// Kind is "ssh".
func (SSH) Kind() string { return KindSSH }

// Endpoint converts t for the SSH layer.
func (SSH) Endpoint(_ context.Context, _ Env, t plan.Target) (remote.Target, error) {
	if !t.Known() {
		return remote.Target{}, errors.New("target has arguments known only after apply that were not resolved")
	}
	return sshEndpoint(t), nil
}

func sshEndpoint(t plan.Target) remote.Target {
	out := remote.Target{Host: t.Host, Port: t.Port, User: t.User, HostKey: t.HostKey, Sudo: t.Sudo}
	if t.Jump != nil {
		j := sshEndpoint(*t.Jump)
		out.Jump = &j
	}
	return out
}

// pollEvery is how often Wait tries again.
const pollEvery = 250 * time.Millisecond

// Wait reads the host key the endpoint presents (remote.ScanHostKey: a
// handshake, no login) until it answers or timeout passes. A key other
// than the pinned one does not end the wait: the login refuses it.
func (SSH) Wait(ctx context.Context, env Env, ep remote.Target, timeout time.Duration) error {
	if env.SSH == nil {
		return errors.New("wait for SSH: no SSH configured")
	}
	wctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		_, err := env.SSH.ScanHostKey(wctx, ep)
		if err == nil {
			return nil
		}
		var refused *remote.RefusedError
		if errors.As(err, &refused) {
			return err // never allowed: waiting would not help
		}
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return ctx.Err()
			}
			return fmt.Errorf("%s did not accept SSH connections within %s (last attempt: %v)", ep, timeout, err)
		case <-time.After(pollEvery):
		}
	}
}

// Reboot reboots over SSH (remote.Dialer.Reboot).
func (SSH) Reboot(ctx context.Context, env Env, ep remote.Target, opts remote.RebootOptions) (*remote.Conn, error) {
	if env.SSH == nil {
		return nil, errors.New("reboot: no SSH configured")
	}
	return env.SSH.Reboot(ctx, ep, opts)
}
