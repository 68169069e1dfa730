package cli

import (
	"fmt"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/remote"
)

// HostKeyCmd groups the host-key subcommands.
type HostKeyCmd struct {
	Pin HostKeyPinCmd `cmd:"" help:"Pin a machine's SSH host key in state (after the host was reinstalled)."`
}

// HostKeyPinCmd is `ferry host-key pin machine.NAME`.
type HostKeyPinCmd struct {
	Machine string `arg:"" help:"The machine (NAME or machine.NAME)."`
	Key     string `name:"key" placeholder:"KEY" help:"The host key to pin (\"ssh-ed25519 AAAA...\", or a known_hosts line); default: the key the host presents now."`
	Yes     bool   `name:"yes" short:"y" help:"Pin without asking."`
}

// Run fetches (or takes) the key, shows its fingerprint, asks, and pins it.
func (c *HostKeyPinCmd) Run(a *App) error {
	f, m, err := a.openMachine(c.Machine)
	if err != nil {
		return err
	}
	defer f.Close()
	if err := machines.HostKeyPinnable(m); err != nil {
		return err
	}
	t, err := machines.MachineTarget(m, f.st)
	if err != nil {
		return err
	}
	old := t.HostKey // pinned now
	key := c.Key
	source := "given with --key"
	if key == "" {
		// The key the host presents, whatever is pinned now: that is
		// what the user asked to trust. A jump host keeps its own pin.
		rt := machines.RemoteTarget(t)
		rt.HostKey = ""
		if key, err = f.dialer.ScanHostKey(a.ctx, rt); err != nil {
			return fmt.Errorf("read the host key of %s: %w; if the host cannot be reached from here, read its key on the console (`ssh-keygen -lf /etc/ssh/ssh_host_ed25519_key.pub`) and pass it with --key", m.Addr, err)
		}
		source = "presented by " + t.String()
	}
	key, err = remote.ParseHostKey(key)
	if err != nil {
		return fmt.Errorf("--key: %w", err)
	}
	fp, err := remote.Fingerprint(key)
	if err != nil {
		return err
	}
	if old == key {
		fmt.Fprintf(a.Stdout, "%s already pins %s; nothing to do.\n", m.Addr, fp)
		return nil
	}
	oldFP := "none (trusted on first use)"
	if old != "" {
		if oldFP, err = remote.Fingerprint(old); err != nil {
			oldFP = "unreadable"
		}
	}
	fmt.Fprintf(a.Stdout, "%s (%s)\n  pinned now: %s\n  new key:    %s (%s)\n", m.Addr, t, oldFP, fp, source)
	if !c.Yes {
		ok, err := a.confirm(fmt.Sprintf("Pin the new key for %s? Check its fingerprint out of band first (on the host's console: ssh-keygen -lf /etc/ssh/ssh_host_*_key.pub).", m.Addr))
		if err != nil {
			return err
		}
		if !ok {
			return fmt.Errorf("host-key pin cancelled; nothing was written")
		}
	}
	store, err := a.OpenStore()
	if err != nil {
		return err
	}
	defer store.Close()
	eng, done, err := a.Engine(store, f.cfg.Dir, nil)
	if err != nil {
		return err
	}
	defer done()
	if _, _, err := eng.PinHostKey(a.ctx, f.deployment, m, key, a.LockTimeout); err != nil {
		return err
	}
	fmt.Fprintf(a.Stdout, "Pinned %s for %s in deployment %q.\n", fp, m.Addr, f.deployment)
	if line, err := remote.KnownHostsLine(t.Host, t.Port, key); err == nil {
		fmt.Fprintf(a.Stdout, "For OpenSSH's known_hosts:\n  %s\n", line)
	}
	return nil
}
