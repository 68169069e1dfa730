package machines

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
)

// weakSecret is a key text a dictionary attack finds at once.
const weakSecret = "Summer2024!"

// guesses is a small dictionary that holds weakSecret.
var guesses = []string{"password", "hunter2", "Winter2023!", "Spring2024!", weakSecret, "letmein"}

// TestKeyHashNeedsThePlanKey: what a plan records of a weak key text is
// no digest an attacker can test guesses against without the plan key:
// the unkeyed digests (old and naive) never match, each deployment's
// digest differs, and only with the plan key does the guess come back.
func TestKeyHashNeedsThePlanKey(t *testing.T) {
	const dest = "/run/keys/db-password"
	k1, k2 := bytes.Repeat([]byte{1}, 32), bytes.Repeat([]byte{2}, 32)
	h1 := keyHash(k1, dest, []byte(weakSecret))
	if !strings.HasPrefix(h1, "hmac-sha256:") || len(h1) != len("hmac-sha256:")+64 {
		t.Fatalf("keyHash = %q, want hmac-sha256:<64 hex>", h1)
	}
	if h2 := keyHash(k2, dest, []byte(weakSecret)); h2 == h1 {
		t.Errorf("two deployments' plan keys give the same digest of one secret")
	}
	if keyHash(k1, "/run/keys/other", []byte(weakSecret)) == h1 {
		t.Errorf("one secret at two destinations gives one digest")
	}
	hexPart := strings.TrimPrefix(h1, "hmac-sha256:")
	// The attacker has the plan (h1), not the plan key: every unkeyed
	// digest of every guess misses.
	for _, g := range guesses {
		plain := sha256.Sum256([]byte(g))
		domain := sha256.Sum256([]byte("ferry key\x00" + dest + "\x00" + g))
		for _, cand := range []string{hex.EncodeToString(plain[:]), hex.EncodeToString(domain[:]), strings.TrimPrefix(legacyKeyHash(dest, []byte(g)), "sha256:")} {
			if cand == hexPart {
				t.Fatalf("guess %q found from the plan alone", g)
			}
		}
		// Nor does an HMAC with a wrong key (none, another deployment's).
		for _, wrong := range [][]byte{nil, k2} {
			if keyHash(wrong, dest, []byte(g)) == h1 {
				t.Fatalf("guess %q found with a key other than the plan key", g)
			}
		}
	}
	// With the plan key the right guess matches: the key is what protects.
	found := ""
	for _, g := range guesses {
		if keyHashMatches(k1, h1, dest, []byte(g)) {
			found = g
		}
	}
	if found != weakSecret {
		t.Errorf("with the plan key the dictionary finds %q, want %q", found, weakSecret)
	}
	// No plan key (BuildPlan): keyed by this process's random key, the
	// same within the process, never unkeyed.
	hn := keyHash(nil, dest, []byte(weakSecret))
	unkeyed := sha256.Sum256([]byte("ferry key\x00" + dest + "\x00" + weakSecret))
	if hn == h1 || strings.TrimPrefix(hn, "hmac-sha256:") == hex.EncodeToString(unkeyed[:]) || keyHash([]byte{}, dest, []byte(weakSecret)) != hn {
		t.Errorf("keyHash without a plan key = %q", hn)
	}
}

// TestLegacyKeyHashes: a "sha256:" hash that an older ferry recorded in
// state still compares (the old way), so that an upgrade does not make
// every key look changed; the plan records the keyed hash.
func TestLegacyKeyHashes(t *testing.T) {
	key := bytes.Repeat([]byte{9}, 32)
	m := &spec.Machine{Name: "web", Addr: "machine.web", Keys: []*spec.Key{
		{Name: "db", DestDir: "/run/keys", Text: weakSecret},
		{Name: "api", DestDir: "/run/keys", Text: "api-token"},
		{Name: "new", DestDir: "/run/keys", Text: "n"},
		{Name: "keyed", DestDir: "/run/keys", Text: "k"},
	}}
	rec := &state.Machine{Keys: map[string]string{
		"/run/keys/db":    legacyKeyHash("/run/keys/db", []byte(weakSecret)), // unchanged since the old ferry
		"/run/keys/api":   legacyKeyHash("/run/keys/api", []byte("old-token")),
		"/run/keys/keyed": keyHash(key, "/run/keys/keyed", []byte("k")),
	}}
	keys, err := planKeys(m, rec, key)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{"db": "unchanged", "api": "changed", "new": "new", "keyed": "unchanged"}
	for _, k := range keys {
		if k.Change != want[k.Name] {
			t.Errorf("key %s: %s, want %s", k.Name, k.Change, want[k.Name])
		}
		if k.Name == "db" && k.Hash != keyHash(key, k.Dest, []byte(weakSecret)) {
			t.Errorf("key %s: plan records %q, want the keyed hash", k.Name, k.Hash)
		}
	}
	// Another plan key (a new deployment key): keyed records look changed.
	keys, err = planKeys(m, rec, bytes.Repeat([]byte{8}, 32))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range keys {
		if k.Name == "keyed" && k.Change != "changed" {
			t.Errorf("a hash keyed by another plan key: %s, want changed", k.Change)
		}
	}
}
