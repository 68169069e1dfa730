package testhosts

import (
	"fmt"
	"os"
	"strings"

	"golang.org/x/crypto/ssh"

	"github.com/nixferry/ferry/remote"
)

// Key is an ed25519 key pair, for host keys and client keys of tests.
type Key struct {
	PEM    []byte     // the private key in OpenSSH form (usable by ssh -i)
	Signer ssh.Signer // the same key
	Public string     // the public key in authorized_keys form, no comment
}

// NewKey makes a new ed25519 key whose private key carries comment.
func NewKey(comment string) (Key, error) {
	priv, pub, err := remote.NewHostKey(comment)
	if err != nil {
		return Key{}, fmt.Errorf("generate key: %w", err)
	}
	signer, err := ssh.ParsePrivateKey(priv)
	if err != nil {
		return Key{}, fmt.Errorf("key: %w", err)
	}
	return Key{PEM: priv, Signer: signer, Public: pub}, nil
}

// writeKey creates an ed25519 key pair: the private key in OpenSSH format
// (usable by ssh -i) at path, mode 600, and path.pub. It returns the signer
// and the public key in authorized_keys form.
func writeKey(path, comment string) (ssh.Signer, string, error) {
	k, err := NewKey(comment)
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	if err := os.WriteFile(path, k.PEM, 0o600); err != nil {
		return nil, "", fmt.Errorf("write key: %w", err)
	}
	if err := os.WriteFile(path+".pub", []byte(k.Public+" "+comment+"\n"), 0o644); err != nil {
		return nil, "", fmt.Errorf("write key: %w", err)
	}
	return k.Signer, k.Public, nil
}

// writeGivenKey writes key, an OpenSSH ed25519 private key, at path (mode
// 600) and its public key at path.pub, and returns the public key in
// authorized_keys form.
func writeGivenKey(path string, key []byte) (string, error) {
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		return "", fmt.Errorf("key for %s: %w", path, err)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return "", fmt.Errorf("key for %s: a %s key, want ssh-ed25519 (sshd_config names the ed25519 key file)", path, t)
	}
	if err := os.WriteFile(path, key, 0o600); err != nil {
		return "", fmt.Errorf("write key: %w", err)
	}
	line := strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))
	if err := os.WriteFile(path+".pub", []byte(line+"\n"), 0o644); err != nil {
		return "", fmt.Errorf("write key: %w", err)
	}
	return line, nil
}
