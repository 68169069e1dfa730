package dialguard_test

import (
	"context"
	"net"
	"net/netip"
	"strings"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/dialguard"
	"github.com/nixferry/ferry/remote/testhosts"
)

// TestNarrowedDialer: a remote.Dialer narrowed by a guard refuses
// addresses moto invents, directly and through a jump host, with the
// guard's error and before anything is dialled: the Dialer's own
// DialContext, which the guard wraps, is never called.
func TestNarrowedDialer(t *testing.T) {
	g, err := dialguard.New(netip.MustParsePrefix("127.0.1.0/24"))
	if err != nil {
		t.Fatal(err)
	}
	key, err := testhosts.NewKey("")
	if err != nil {
		t.Fatal(err)
	}
	var dialled []string
	opts := g.Narrow(remote.Options{
		Signers: []ssh.Signer{key.Signer}, KeyFiles: []string{}, NoAgent: true,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			dialled = append(dialled, address)
			return nil, &net.OpError{Op: "dial", Net: network, Err: net.UnknownNetworkError("test: nothing may be dialled")}
		},
	})
	d := remote.NewDialer(opts)
	defer d.Close()
	jump := &remote.Target{Host: "127.0.1.4"}
	for _, target := range []remote.Target{
		{Host: "54.214.1.1"},
		{Host: "10.0.0.5", Port: 2222},
		{Host: "172.31.5.9", Jump: jump},
		{Host: "127.0.1.5", Jump: &remote.Target{Host: "54.214.1.1"}},
		{Host: "localhost"},
	} {
		_, err := d.Dial(t.Context(), target)
		if err == nil || !strings.Contains(err.Error(), "dial guard: refusing to dial") {
			t.Errorf("Dial %s: %v, want the guard's refusal", target, err)
		}
		if _, err := d.ScanHostKey(t.Context(), target); err == nil || !strings.Contains(err.Error(), "dial guard: refusing to dial") {
			t.Errorf("ScanHostKey %s: %v, want the guard's refusal", target, err)
		}
	}
	if len(dialled) != 0 {
		t.Errorf("dialled %v; the guard must refuse before any dial", dialled)
	}

	// Allowed addresses reach the Dialer's own DialContext.
	if _, err := d.Dial(t.Context(), remote.Target{Host: "127.0.1.4"}); err == nil || !strings.Contains(err.Error(), "nothing may be dialled") {
		t.Errorf("Dial of an allowed address: %v, want the inner DialContext's error", err)
	}
	if len(dialled) != 1 || dialled[0] != "127.0.1.4:22" {
		t.Errorf("dialled %v, want 127.0.1.4:22", dialled)
	}
}

func TestFromEnv(t *testing.T) {
	env := map[string]string{}
	lookup := func(k string) (string, bool) { v, ok := env[k]; return v, ok }
	if g, err := dialguard.FromEnv(lookup); g != nil || err != nil {
		t.Errorf("unset: %v, %v; want no guard", g, err)
	}
	env[dialguard.Env] = ""
	g, err := dialguard.FromEnv(lookup)
	if err != nil || g == nil || g.Check("127.0.0.1:22") == nil {
		t.Errorf("empty: %v, %v; want a guard that allows nothing", g, err)
	}
	env[dialguard.Env] = "127.0.1.0/24,127.1.1.0/24"
	if g, err := dialguard.FromEnv(lookup); err != nil || g.String() != env[dialguard.Env] {
		t.Errorf("set: %v, %v", g, err)
	}
	env[dialguard.Env] = "0.0.0.0/0"
	if g, err := dialguard.FromEnv(lookup); err == nil || !strings.Contains(err.Error(), dialguard.Env) {
		t.Errorf("a guard that would widen: %v, %v; want an error naming %s", g, err, dialguard.Env)
	}
}
