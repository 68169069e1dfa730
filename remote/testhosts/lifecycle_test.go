package testhosts_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"math/big"
	"os"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

// newKeyPEM returns a new ed25519 key in OpenSSH form, its signer and its
// public key in authorized_keys form.
func newKeyPEM(t *testing.T) ([]byte, ssh.Signer, string) {
	t.Helper()
	k, err := testhosts.NewKey("test")
	if err != nil {
		t.Fatal(err)
	}
	return k.PEM, k.Signer, k.Public
}

// TestHostLifecycle: a host added on port 22 of a loopback address with
// a given host key and authorized key, halted (its /nix and /root kept),
// booted again (a new boot ID, a fresh /run), and removed.
func TestHostLifecycle(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{Empty: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := fleet.Stop(); err != nil {
			t.Errorf("stop: %v", err)
		}
	})
	if len(fleet.Hosts) != 0 {
		t.Fatalf("empty fleet has hosts %v", fleet.Hosts)
	}
	// A random address of 127.254.0.0/16: port 22 there is free of the
	// system's sshd and of other test processes.
	n, err := rand.Int(rand.Reader, big.NewInt(250*250))
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.254.%d.%d", 1+n.Int64()/250, 2+n.Int64()%250)
	hostKey, _, hostPub := newKeyPEM(t)
	_, client, clientPub := newKeyPEM(t)
	h, err := fleet.Add(ctx, testhosts.HostOptions{Name: "i-1", Addr: addr, Port: 22, HostKey: hostKey, AuthorizedKeys: clientPub})
	if err != nil {
		t.Fatal(err)
	}
	if h.HostKey != hostPub || h.Address() != addr+":22" || !fleet.Up("i-1") {
		t.Fatalf("added %+v (up %v), want %s:22 with host key %s", h, fleet.Up("i-1"), addr, hostPub)
	}
	if got, ok := fleet.Host("i-1"); !ok || got != h {
		t.Errorf("Host(i-1) = %+v, %v", got, ok)
	}

	d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{client}, KeyFiles: []string{}, NoAgent: true})
	defer d.Close()
	run := func(cmd string) string {
		t.Helper()
		conn, closeConn, err := d.DialFresh(ctx, h.Target())
		if err != nil {
			t.Fatal(err)
		}
		defer closeConn()
		out, err := conn.Output(ctx, cmd)
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(out)
	}
	boot1 := run("hostname; cat /proc/sys/kernel/random/boot_id; echo disk > /nix/kept; echo home > /root/kept; echo tmp > /run/gone")
	if !strings.HasPrefix(boot1, "i-1\n") {
		t.Errorf("hostname and boot ID: %q", boot1)
	}
	// Only the given key logs in.
	other := remote.NewDialer(fleet.DialerOptions())
	defer other.Close()
	if _, err := other.Dial(ctx, h.Target()); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
		t.Errorf("the fleet's client key, not authorized on this host: %v", err)
	}

	if err := fleet.Halt("i-1"); err != nil {
		t.Fatal(err)
	}
	if err := fleet.Halt("i-1"); err != nil {
		t.Errorf("second Halt: %v", err)
	}
	if fleet.Up("i-1") {
		t.Error("Up after Halt")
	}
	if _, _, err := d.DialFresh(ctx, h.Target()); err == nil {
		t.Error("a halted host answers")
	}

	if _, err := fleet.Boot(ctx, "i-1"); err != nil {
		t.Fatal(err)
	}
	boot2 := run("hostname; cat /proc/sys/kernel/random/boot_id; cat /nix/kept /root/kept; ls /run")
	lines := strings.Split(boot2, "\n")
	if len(lines) < 4 || lines[1] == strings.Split(boot1, "\n")[1] || lines[2] != "disk" || lines[3] != "home" || strings.Contains(boot2, "gone") {
		t.Errorf("after halt and boot: %q, want a new boot ID, /nix and /root kept, /run fresh (before: %q)", boot2, boot1)
	}
	if _, err := fleet.Boot(ctx, "i-1"); err == nil {
		t.Error("Boot of a running host succeeded")
	}

	// Errors: a name or address in use, an address off loopback.
	for _, opts := range []testhosts.HostOptions{
		{Name: "i-1", Addr: "127.254.0.9"},
		{Name: "i-2", Addr: addr, Port: 22},
		{Name: "i-3", Addr: "10.0.0.5"},
		{Name: "", Addr: "127.254.0.9"},
	} {
		if _, err := fleet.Add(ctx, opts); err == nil {
			t.Errorf("Add(%+v) succeeded", opts)
		}
	}

	// Without a host key or authorized keys: a new key, the client key.
	h2, err := fleet.Add(ctx, testhosts.HostOptions{Name: "i-2", Addr: "127.254.0.1"})
	if err != nil {
		t.Fatal(err)
	}
	if h2.HostKey == "" || h2.HostKey == hostPub || h2.Port == 0 {
		t.Errorf("second host %+v, want a new host key and a picked port", h2)
	}
	if _, err := other.Dial(ctx, h2.Target()); err != nil {
		t.Errorf("the fleet's client key on a host added without authorized keys: %v", err)
	}

	if err := fleet.Remove("i-1"); err != nil {
		t.Fatal(err)
	}
	if _, ok := fleet.Host("i-1"); ok || fleet.Up("i-1") {
		t.Error("a removed host is still in the fleet")
	}
	if _, err := os.Stat(h.Root); !os.IsNotExist(err) {
		t.Errorf("the removed host's folder %s: %v, want it gone", h.Root, err)
	}
	if err := fleet.Remove("i-1"); err == nil {
		t.Error("second Remove succeeded")
	}
	if _, err := fleet.Boot(ctx, "i-1"); err == nil {
		t.Error("Boot of a removed host succeeded")
	}
	if len(fleet.Hosts) != 1 || fleet.Hosts[0].Name != "i-2" {
		t.Errorf("hosts after Remove: %+v", fleet.Hosts)
	}
	// The name is free again.
	if _, err := fleet.Add(ctx, testhosts.HostOptions{Name: "i-1", Addr: addr, Port: 22, HostKey: hostKey, AuthorizedKeys: clientPub}); err != nil {
		t.Errorf("Add after Remove: %v", err)
	}
}
