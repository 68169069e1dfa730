package remote_test

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
)

// TestDialHooks: Options.DialContext opens every connection made from this
// machine (the target, or the first jump host), and Options.CheckAddress
// is asked about every address, jump hosts' onward dials included, before
// anything is dialled.
func TestDialHooks(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	jump := newTestServer(t, key.PublicKey(), commands)
	inner := newTestServer(t, key.PublicKey(), commands)
	refused := errors.New("refused by the test")

	var mu sync.Mutex
	refuse := inner.target().Address()
	var dialled, checked []string
	opts := remote.Options{
		Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true,
		DialContext: func(ctx context.Context, network, address string) (net.Conn, error) {
			mu.Lock()
			dialled = append(dialled, network+" "+address)
			mu.Unlock()
			var d net.Dialer
			return d.DialContext(ctx, network, address)
		},
		CheckAddress: func(address string) error {
			mu.Lock()
			checked = append(checked, address)
			mu.Unlock()
			if address == refuse {
				return refused
			}
			return nil
		},
	}
	reset := func() {
		mu.Lock()
		dialled, checked = nil, nil
		mu.Unlock()
	}
	d := remote.NewDialer(opts)
	defer d.Close()

	// Directly: the refused address is never dialled.
	if _, err := d.Dial(ctx, inner.target()); !errors.Is(err, refused) {
		t.Fatalf("Dial of a refused address: %v, want the CheckAddress error", err)
	}
	if _, err := d.ScanHostKey(ctx, inner.target()); !errors.Is(err, refused) {
		t.Fatalf("ScanHostKey of a refused address: %v, want the CheckAddress error", err)
	} else if re := (*remote.RefusedError)(nil); !errors.As(err, &re) || re.Address != inner.target().Address() {
		t.Errorf("ScanHostKey of a refused address: %v is no *remote.RefusedError for %s (waits would retry it)", err, inner.target().Address())
	}
	if len(dialled) != 0 || inner.logins.Load() != 0 {
		t.Errorf("refused address dialled anyway: %v", dialled)
	}

	// Through a jump host: the onward address is refused before even the
	// jump host is dialled.
	reset()
	jt := jump.target()
	via := inner.target()
	via.Jump = &jt
	if _, err := d.Dial(ctx, via); !errors.Is(err, refused) {
		t.Fatalf("Dial through a jump host of a refused address: %v, want the CheckAddress error", err)
	}
	if len(dialled) != 0 || jump.logins.Load() != 0 || len(checked) != 1 || checked[0] != inner.target().Address() {
		t.Errorf("dialled %v after checking %v, want nothing dialled after checking the target only", dialled, checked)
	}

	// Allowed: the jump host is dialled with DialContext, and the onward
	// dial is checked too.
	reset()
	mu.Lock()
	refuse = ""
	mu.Unlock()
	conn, err := d.Dial(ctx, via)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := conn.Output(ctx, "echo hello"); err != nil || out != "hello\n" {
		t.Errorf("Output = %q, %v", out, err)
	}
	if len(dialled) != 1 || dialled[0] != "tcp "+jt.Address() {
		t.Errorf("dialled %v, want only the jump host %s", dialled, jt.Address())
	}
	if len(checked) != 2 || checked[0] != inner.target().Address() || checked[1] != jt.Address() {
		t.Errorf("checked %v, want the target, then its jump host", checked)
	}
}
