package binarycache_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"gocloud.dev/blob/fileblob"

	"github.com/nixferry/ferry/providers/nix/binarycache"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// newKeys generates a key pair with Nix itself.
func newKeys(t *testing.T, name string) (binarycache.SecretKey, string, string) {
	t.Helper()
	dir := t.TempDir()
	sk, pk := filepath.Join(dir, "sk"), filepath.Join(dir, "pk")
	if out, err := exec.Command("nix-store", "--generate-binary-cache-key", name, sk, pk).CombinedOutput(); err != nil {
		t.Fatalf("nix-store --generate-binary-cache-key: %v: %s", err, out)
	}
	skText, _ := os.ReadFile(sk)
	pkText, _ := os.ReadFile(pk)
	key, err := binarycache.ParseSecretKey(string(skText))
	if err != nil {
		t.Fatal(err)
	}
	return key, string(skText), strings.TrimSpace(string(pkText))
}

// buildPair builds two store paths, the second referring to the first.
func buildPair(t *testing.T) string {
	t.Helper()
	expr := fmt.Sprintf(`let
  dep = derivation { name = "ferry-cache-dep"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo %[1]s > $out"]; };
in derivation { name = "ferry-cache-top"; system = builtins.currentSystem; builder = "/bin/sh"; args = ["-c" "echo ${dep} > $out"]; }`, t.Name())
	out, err := exec.Command("nix-build", "--no-out-link", "-E", expr).Output()
	if err != nil {
		t.Fatalf("nix-build: %v", err)
	}
	return strings.TrimSpace(string(out))
}

// TestUploadNixReadsIt uploads a closure into a file:// bucket and has Nix
// itself copy it out of that cache into a fresh store, checking the
// signatures against the public key; a second upload writes nothing.
func TestUploadNixReadsIt(t *testing.T) {
	nixtest.RequireNix(t)
	ctx := context.Background()
	key, _, pub := newKeys(t, "fleet-test-1")
	top := buildPair(t)
	dir := t.TempDir()
	bkt, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	u := binarycache.NewUploader(bkt, "file://"+dir, key, 0)
	st, err := u.Upload(ctx, []string{top})
	if err != nil {
		t.Fatal(err)
	}
	if st.Closure != 2 || st.Uploaded != 2 || st.Present != 0 {
		t.Fatalf("first upload: %+v, want 2 uploaded of 2", st)
	}
	// Nix reads the cache, checking signatures with the public key.
	root := t.TempDir()
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy",
		"--from", "file://"+dir, "--to", "local?root="+root, top,
		"--option", "trusted-public-keys", pub)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("nix copy from the cache: %v: %s", err, out)
	}
	if _, err := os.Stat(filepath.Join(root, top)); err != nil {
		t.Fatalf("the copied store lacks the path: %v", err)
	}
	// Another uploader (another run) finds everything present.
	st, err = binarycache.NewUploader(bkt, "file://"+dir, key, 0).Upload(ctx, []string{top})
	if err != nil {
		t.Fatal(err)
	}
	if st.Uploaded != 0 || st.Present != 2 {
		t.Fatalf("second upload: %+v, want nothing uploaded", st)
	}
}

// TestUploadWrongKeyRefused: Nix refuses paths signed by a key it does not
// trust, so the signatures are what makes the cache safe.
func TestUploadWrongKeyRefused(t *testing.T) {
	nixtest.RequireNix(t)
	key, _, _ := newKeys(t, "fleet-test-1")
	_, _, otherPub := newKeys(t, "fleet-test-1")
	top := buildPair(t)
	dir := t.TempDir()
	bkt, err := fileblob.OpenBucket(dir, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer bkt.Close()
	if _, err := binarycache.NewUploader(bkt, "file://"+dir, key, 0).Upload(context.Background(), []string{top}); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("nix", "--extra-experimental-features", "nix-command", "copy",
		"--from", "file://"+dir, "--to", "local?root="+t.TempDir(), top,
		"--option", "trusted-public-keys", otherPub)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("nix copy accepted paths signed by an untrusted key: %s", out)
	}
}

func TestCheckPair(t *testing.T) {
	nixtest.RequireNix(t)
	key, skText, pub := newKeys(t, "fleet-test-1")
	_, _, otherPub := newKeys(t, "fleet-test-1")
	pk, err := binarycache.ParsePublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	if err := binarycache.CheckPair(key, pk); err != nil {
		t.Errorf("matching pair: %v", err)
	}
	other, _ := binarycache.ParsePublicKey(otherPub)
	err = binarycache.CheckPair(key, other)
	if err == nil {
		t.Fatal("a foreign public key was accepted")
	}
	secret := strings.TrimPrefix(strings.TrimSpace(skText), "fleet-test-1:")
	for _, s := range []string{err.Error(), fmt.Sprint(key), fmt.Sprintf("%v %+v %#v %s %q", key, key, key, key, key)} {
		if strings.Contains(s, secret) || strings.Contains(s, secret[:20]) {
			t.Errorf("the secret key shows in %q", s)
		}
	}
	if _, err := binarycache.ParseSecretKey("fleet:" + secret[:10]); err == nil || strings.Contains(err.Error(), secret[:10]) {
		t.Errorf("bad secret key: %v", err)
	}
}
