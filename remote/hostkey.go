package remote

import (
	"bytes"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// HostKeyMismatchError is returned when a host presents a key other than the
// pinned one. Want and Got are in authorized_keys form.
type HostKeyMismatchError struct {
	Host string // host:port
	Want string
	Got  string
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: pinned %s, but the host presented %s; "+
		"if the host was reinstalled and you trust its new key, update the pinned host key "+
		"(the target's host_key, or the key recorded in state); otherwise someone may be "+
		"intercepting the connection",
		e.Host, describeKey(e.Want), describeKey(e.Got))
}

// Fingerprint returns the SHA256 fingerprint ("SHA256:...") of a key in
// authorized_keys form.
func Fingerprint(authorizedKey string) (string, error) {
	k, err := parseAuthorizedKey(authorizedKey)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(k), nil
}

// describeKey is "SHA256:... (ssh-ed25519)", or the raw text when it does not
// parse.
func describeKey(authorizedKey string) string {
	k, err := parseAuthorizedKey(authorizedKey)
	if err != nil {
		return fmt.Sprintf("%q (unparsable)", authorizedKey)
	}
	return fmt.Sprintf("%s (%s)", ssh.FingerprintSHA256(k), k.Type())
}

func parseAuthorizedKey(s string) (ssh.PublicKey, error) {
	k, _, _, _, err := ssh.ParseAuthorizedKey([]byte(strings.TrimSpace(s)))
	if err != nil {
		return nil, fmt.Errorf("parse host key %q: %w", s, err)
	}
	return k, nil
}

// authorizedKey renders k as "TYPE BASE64" without a trailing newline.
func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

func sameKey(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

// hostKeyAlgorithms makes the server present a key of the pinned type, so a
// host with several host keys is not mistaken for a changed one.
func hostKeyAlgorithms(pinned ssh.PublicKey) []string {
	switch pinned.Type() {
	case ssh.KeyAlgoRSA:
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	case ssh.CertAlgoRSAv01:
		return []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
	default:
		return []string{pinned.Type()}
	}
}
