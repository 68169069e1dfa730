package awstest

import (
	"bytes"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// The user data lines NixOS's EC2 images read their SSH host key from, as
// NixOps wrote them: the OpenSSH private key with every newline replaced
// by "|", and the public key line. Other lines may come before, between
// and after them.
const (
	userDataHostKey    = "SSH_HOST_ED25519_KEY:"
	userDataHostKeyPub = "SSH_HOST_ED25519_KEY_PUB:"
)

// UserDataHostKey is the ed25519 host key an instance's user data carries.
type UserDataHostKey struct {
	Private []byte // OpenSSH private key (PEM), newlines restored
	Public  string // authorized_keys form ("ssh-ed25519 AAAA..."), no comment
}

// ParseUserDataHostKey reads the host key from user data (decoded, not
// base64). ok is false when it carries none; an error says what is wrong
// with the one it carries: not an ed25519 OpenSSH key, or a
// SSH_HOST_ED25519_KEY_PUB line that is not its public key.
func ParseUserDataHostKey(userData []byte) (key UserDataHostKey, ok bool, err error) {
	var priv, pub string
	for line := range strings.SplitSeq(string(userData), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if rest, found := strings.CutPrefix(line, userDataHostKey); found {
			priv = rest
		} else if rest, found := strings.CutPrefix(line, userDataHostKeyPub); found {
			pub = strings.TrimSpace(rest)
		}
	}
	if priv == "" {
		return UserDataHostKey{}, false, nil
	}
	pemKey := []byte(strings.ReplaceAll(priv, "|", "\n"))
	if !bytes.HasSuffix(pemKey, []byte("\n")) {
		pemKey = append(pemKey, '\n')
	}
	signer, err := ssh.ParsePrivateKey(pemKey)
	if err != nil {
		return UserDataHostKey{}, true, fmt.Errorf("user data %s: %w", strings.TrimSuffix(userDataHostKey, ":"), err)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return UserDataHostKey{}, true, fmt.Errorf("user data %s: a %s key, want ssh-ed25519", strings.TrimSuffix(userDataHostKey, ":"), t)
	}
	key = UserDataHostKey{Private: pemKey, Public: strings.TrimSpace(string(ssh.MarshalAuthorizedKey(signer.PublicKey())))}
	if pub != "" {
		given, _, _, _, err := ssh.ParseAuthorizedKey([]byte(pub))
		if err != nil {
			return UserDataHostKey{}, true, fmt.Errorf("user data %s: %w", strings.TrimSuffix(userDataHostKeyPub, ":"), err)
		}
		if !bytes.Equal(given.Marshal(), signer.PublicKey().Marshal()) {
			return UserDataHostKey{}, true, errors.New("user data: SSH_HOST_ED25519_KEY_PUB is not the public key of SSH_HOST_ED25519_KEY")
		}
	}
	return key, true, nil
}

// HostKeyUserData returns the user data lines that give an instance the
// host key privateKey (OpenSSH PEM) with public key publicKey, as NixOps
// wrote them, for tests that launch instances with the raw SDK.
func HostKeyUserData(privateKey []byte, publicKey string) string {
	return userDataHostKey + strings.ReplaceAll(string(privateKey), "\n", "|") + "\n" +
		userDataHostKeyPub + strings.TrimSpace(publicKey) + "\n"
}
