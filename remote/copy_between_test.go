package remote_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/nixferry/ferry/remote"
)

// TestCopyBetween copies a system from one test host to another with
// remote.CopyBetween: the second host fetches it from the first directly,
// and the one-time key the first accepted is gone afterwards, also after a
// copy that failed (a path the first host lacks), whose error says which
// host fetched from which.
func TestCopyBetween(t *testing.T) {
	fleet, systems := fixture(t)
	src, dst := fleet.Hosts[0], fleet.Hosts[1]
	ctx := context.Background()
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	srcConn, err := d.Dial(ctx, src.Target())
	if err != nil {
		t.Fatal(err)
	}
	dstConn, err := d.Dial(ctx, dst.Target())
	if err != nil {
		t.Fatal(err)
	}
	sys := systems["spare"]
	if _, err := remote.CopyClosure(ctx, srcConn, []string{sys}, nil); err != nil {
		t.Fatal(err)
	}
	if err := remote.CopyBetween(ctx, srcConn, dstConn, []string{sys}); err != nil {
		t.Fatalf("CopyBetween: %v", err)
	}
	if !dst.HasPath(sys) {
		t.Errorf("%s lacks %s after the copy", dst.Name, sys)
	}
	oneTimeKeyGone := func(when string) {
		t.Helper()
		keys, err := os.ReadFile(src.AuthorizedKeysFile())
		if err != nil {
			t.Fatal(err)
		}
		if strings.Contains(string(keys), "ferry-copy-") {
			t.Errorf("%s: %s still accepts the one-time key:\n%s", when, src.Name, keys)
		}
	}
	oneTimeKeyGone("after the copy")

	missing := "/nix/store/0c2qy2pvlqlwxg7mnjnnqbqkpj1qkgw5-not-on-the-source"
	err = remote.CopyBetween(ctx, srcConn, dstConn, []string{missing})
	if err == nil || !strings.Contains(err.Error(), dst.Address()+" fetching from "+src.Address()) || !strings.Contains(err.Error(), "is not valid") {
		t.Errorf("copying a path the source lacks: got %v, want an error naming both hosts and Nix's reason", err)
	}
	oneTimeKeyGone("after a failed copy")
}
