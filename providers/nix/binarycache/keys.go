package binarycache

import (
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
)

// SecretKey is a Nix binary cache signing key (the "name:base64" form of
// nix-store --generate-binary-cache-key's secret key file). It never
// prints the key itself.
type SecretKey struct {
	name string
	key  ed25519.PrivateKey
}

// PublicKey is a Nix binary cache public key ("name:base64"), as
// trusted-public-keys lists it.
type PublicKey struct {
	Name string
	Key  ed25519.PublicKey
}

// ParseSecretKey reads a secret key in Nix's "name:base64" form. Its
// errors never quote the key.
func ParseSecretKey(s string) (SecretKey, error) {
	name, b, err := parseNamed(strings.TrimSpace(s), ed25519.PrivateKeySize)
	if err != nil {
		return SecretKey{}, fmt.Errorf("not a Nix secret key (want NAME:BASE64 of %d bytes, as nix-store --generate-binary-cache-key writes): %w", ed25519.PrivateKeySize, err)
	}
	return SecretKey{name: name, key: ed25519.PrivateKey(b)}, nil
}

// ParsePublicKey reads a public key in Nix's "name:base64" form.
func ParsePublicKey(s string) (PublicKey, error) {
	name, b, err := parseNamed(strings.TrimSpace(s), ed25519.PublicKeySize)
	if err != nil {
		return PublicKey{}, fmt.Errorf("not a Nix public key %q (want NAME:BASE64 of %d bytes, as nix-store --generate-binary-cache-key writes): %w", s, ed25519.PublicKeySize, err)
	}
	return PublicKey{Name: name, Key: ed25519.PublicKey(b)}, nil
}

func parseNamed(s string, size int) (string, []byte, error) {
	name, data, ok := strings.Cut(s, ":")
	if !ok || name == "" {
		return "", nil, errors.New("no name before ':'")
	}
	b, err := base64.StdEncoding.DecodeString(data)
	if err != nil {
		return "", nil, errors.New("the part after ':' is not base64")
	}
	if len(b) != size {
		return "", nil, fmt.Errorf("%d bytes after ':'", len(b))
	}
	return name, b, nil
}

// Name is the key's name, which signatures carry.
func (k SecretKey) Name() string { return k.name }

// String names the key without revealing it.
func (k SecretKey) String() string { return "<secret key " + k.name + ">" }

// GoString names the key without revealing it.
func (k SecretKey) GoString() string { return k.String() }

// Format names the key without revealing it, whatever the verb.
func (k SecretKey) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(k.String())) }

// Sign returns Nix's signature of msg: "name:base64".
func (k SecretKey) Sign(msg string) string {
	return k.name + ":" + base64.StdEncoding.EncodeToString(ed25519.Sign(k.key, []byte(msg)))
}

// String is the key in Nix's "name:base64" form.
func (k PublicKey) String() string { return k.Name + ":" + base64.StdEncoding.EncodeToString(k.Key) }

// Verify checks a "name:base64" signature of msg made by this key.
func (k PublicKey) Verify(msg, sig string) bool {
	name, data, ok := strings.Cut(sig, ":")
	if !ok || name != k.Name {
		return false
	}
	b, err := base64.StdEncoding.DecodeString(data)
	return err == nil && ed25519.Verify(k.Key, []byte(msg), b)
}

// pairTestMessage is what CheckPair signs.
const pairTestMessage = "ferry: does this secret key belong to this public key?"

// CheckPair reports whether sk signs what pk verifies (and under the same
// name): it signs a test message and verifies the signature.
func CheckPair(sk SecretKey, pk PublicKey) error {
	if sk.name != pk.Name {
		return fmt.Errorf("the secret key is named %q and the public key %q: hosts would refuse the signatures", sk.name, pk.Name)
	}
	if !pk.Verify(pairTestMessage, sk.Sign(pairTestMessage)) {
		return fmt.Errorf("the secret key does not belong to the public key %s: a test message it signed does not verify", pk)
	}
	return nil
}

// fingerprint is what Nix signs for a store path.
func fingerprint(path, narHash string, narSize int64, refs []string) string {
	return fmt.Sprintf("1;%s;%s;%d;%s", path, narHash, narSize, strings.Join(refs, ","))
}
