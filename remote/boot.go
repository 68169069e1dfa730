package remote

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// BootID returns the host's boot ID (/proc/sys/kernel/random/boot_id), which
// changes at every boot: it tells a host that rebooted from one that only
// dropped the connection.
func BootID(ctx context.Context, conn *Conn) (string, error) {
	r, err := probe(ctx, conn, probeBootID)
	if err != nil {
		return "", fmt.Errorf("read boot ID of %s: %w", conn.target.Name(), err)
	}
	if r.facts.BootID == "" {
		return "", fmt.Errorf("read boot ID of %s: /proc/sys/kernel/random/boot_id is missing or empty", conn.target.Name())
	}
	return r.facts.BootID, nil
}

// BootFiles are what a boot loads, as fully resolved store paths (readlink -f
// of SYSTEM/kernel, SYSTEM/initrd and SYSTEM/kernel-modules); "" when the
// link is missing.
type BootFiles struct {
	Kernel, Initrd, Modules string
}

// BootedFiles returns the boot files of the system the host booted
// (/run/booted-system); false when the host has none (not NixOS, or a
// container). Comparing them with the files of the system being deployed
// (BootFiles.Changes) says whether a reboot is needed.
func BootedFiles(ctx context.Context, conn *Conn) (BootFiles, bool, error) {
	r, err := probe(ctx, conn, probeBooted)
	if err != nil {
		return BootFiles{}, false, fmt.Errorf("read booted system of %s: %w", conn.target.Name(), err)
	}
	return r.facts.Booted, r.facts.BootedKnown, nil
}

// Changes lists, for people, what differs between b (booted) and next:
// "kernel OLD → NEW", "initrd OLD → NEW", "kernel modules OLD → NEW". A file
// that is "" on either side is not compared (unknown is not a change).
func (b BootFiles) Changes(next BootFiles) []string {
	var changes []string
	for _, f := range []struct{ what, old, new string }{
		{"kernel", b.Kernel, next.Kernel},
		{"initrd", b.Initrd, next.Initrd},
		{"kernel modules", b.Modules, next.Modules},
	} {
		if f.old != "" && f.new != "" && f.old != f.new {
			changes = append(changes, fmt.Sprintf("%s %s → %s", f.what, f.old, f.new))
		}
	}
	return changes
}

// DefaultRebootTimeout bounds the wait for a host to come back when
// RebootOptions.Timeout is not set.
const DefaultRebootTimeout = 5 * time.Minute

// RebootOptions configure Dialer.Reboot.
type RebootOptions struct {
	Timeout time.Duration // for the host to come back; 0 means 5m
	Poll    time.Duration // between connection attempts; 0 means 1s
	// Previous, for WaitForBoot after a restart that changes the host key
	// (an install's reboot into the installed system), is the key the
	// host presented before: seen again, it is the old boot still going
	// down, waited out rather than refused.
	Previous string
}

// rebootScript starts the reboot detached, a second later, so that this
// session ends with a status before sshd goes away.
const rebootScript = systemPath + `if [ -d /run/systemd/system ]; then set -- systemctl reboot; else set -- reboot; fi
command -v "$1" >/dev/null 2>&1 || { echo "$1: command not found" >&2; exit 127; }
setsid nohup sh -c 'sleep 1; exec "$@"' ferry-reboot "$@" </dev/null >/dev/null 2>&1 &`

// Reboot reboots the host and waits until it is back: it reads the boot ID,
// starts the reboot detached (`systemctl reboot` under systemd, else
// `reboot`), then opens fresh connections every Poll until one reports
// another boot ID. That connection replaces the pool's (dead) one for t, so
// later Dials work; Conns handed out before the reboot stop working. The host
// key is checked against the same pins as before the reboot: a host that
// comes back with another key ends the wait with *HostKeyMismatchError.
func (d *Dialer) Reboot(ctx context.Context, t Target, opts RebootOptions) (*Conn, error) {
	t = t.withDefaults()
	host := t.Name()
	conn, err := d.Dial(ctx, t)
	if err != nil {
		return nil, fmt.Errorf("reboot %s: %w", host, err)
	}
	before, err := BootID(ctx, conn)
	if err != nil {
		return nil, fmt.Errorf("reboot %s: %w", host, err)
	}
	if err := conn.Run(ctx, rebootScript, RunOptions{}); err != nil {
		return nil, fmt.Errorf("reboot %s: %w", host, err)
	}
	conn, err = d.WaitForBoot(ctx, t, before, opts)
	var mm *HostKeyMismatchError
	if err != nil && (errors.As(err, &mm) || ctx.Err() != nil) {
		return nil, fmt.Errorf("reboot %s: %w", host, err)
	}
	return conn, err
}

// RestartScript runs cmd detached (setsid nohup, as a reboot is started)
// a fifth of a second later (a second where sleep takes whole seconds
// only), so that the session ends with its status before the host goes
// away: for a kexec or a reboot that Dialer.WaitForBoot then waits for.
// The status needs only to leave the host, not a round trip: sshd sends
// it as the shell exits, right after the fork.
func RestartScript(cmd string) string {
	return systemPath + "setsid nohup sh -c '{ sleep 0.2 || sleep 1; } 2>/dev/null; exec " + Quote("sh") + " -c \"$1\"' ferry-restart " + Quote(cmd) + " </dev/null >/dev/null 2>&1 &"
}

// WaitForBoot opens fresh connections to t every opts.Poll (the first one
// a poll after the call, or half the timeout if that is sooner) until one
// reports a boot ID other than before, or opts.Timeout passes. That
// connection replaces the pool's one for t. The host key is checked
// against t's pin: a host that comes back with another key ends the wait
// with *HostKeyMismatchError (only a person can tell a reinstall from an
// attack).
func (d *Dialer) WaitForBoot(ctx context.Context, t Target, before string, opts RebootOptions) (*Conn, error) {
	t = t.withDefaults()
	if opts.Timeout <= 0 {
		opts.Timeout = DefaultRebootTimeout
	}
	if opts.Poll <= 0 {
		opts.Poll = time.Second
	}
	host := t.Name()
	wctx, cancel := context.WithTimeout(ctx, opts.Timeout)
	defer cancel()
	var lastErr error
	// The first attempt too waits a poll (at most half the timeout, so that
	// one is made): right after a restart was asked for the host still runs
	// the old boot (RestartScript waits before it restarts), and a
	// connection to it is a handshake and a session spent on both ends for
	// nothing.
	wait := min(opts.Poll, opts.Timeout/2)
	for {
		select {
		case <-wctx.Done():
			if ctx.Err() != nil {
				return nil, ctx.Err()
			}
			if lastErr == nil {
				lastErr = errors.New("no attempt was made")
			}
			return nil, fmt.Errorf("%s did not come back within %v after reboot (last attempt: %v); check its console", host, opts.Timeout, lastErr)
		case <-time.After(wait):
		}
		wait = opts.Poll
		c, err := d.dialNew(wctx, t)
		if err == nil {
			fresh := &Conn{c: c, target: t}
			id, err := BootID(wctx, fresh)
			switch {
			case err == nil && id != before:
				if err := d.replacePooled(t, c); err != nil {
					return nil, err
				}
				return fresh, nil
			case err == nil:
				lastErr = fmt.Errorf("%s still runs boot %s", host, before)
			default:
				lastErr = err
			}
			c.ssh.Close()
		} else {
			// A host that comes back with another key is not waited for:
			// only a person can tell a reinstall from an attack.
			var mm *HostKeyMismatchError
			if errors.As(err, &mm) && (opts.Previous == "" || !SameHostKey(mm.Got, opts.Previous)) {
				return nil, err
			}
			lastErr = err
		}
	}
}
