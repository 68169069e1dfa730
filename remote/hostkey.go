package remote

import (
	"bytes"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// HostKeyMismatchError is returned when a host presents a key other than the
// pinned one, before anything is sent to it (no authentication). Want and Got
// are as pinned and as presented (authorized_keys form). Dial returns it for
// the target and for its jump host, wrapped: use errors.As.
type HostKeyMismatchError struct {
	Host string // host:port
	Want string
	Got  string
}

func (e *HostKeyMismatchError) Error() string {
	return fmt.Sprintf("host key mismatch for %s: pinned %s, but the host presented %s; "+
		"if the host was reinstalled, check the new fingerprint out of band (on its console: "+
		"ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub) before you update the pinned host key "+
		"(the target's host_key, or the key recorded in state); otherwise someone may be "+
		"intercepting the connection",
		e.Host, describeKey(e.Want), describeKey(e.Got), keyFileKind(e.Got))
}

// Fingerprints returns the SHA256 fingerprints ("SHA256:...") of the pinned
// key and of the key the host presented; a key that does not parse is
// returned as it is.
func (e *HostKeyMismatchError) Fingerprints() (want, got string) {
	fp := func(key string) string {
		if f, err := Fingerprint(key); err == nil {
			return f
		}
		return key
	}
	return fp(e.Want), fp(e.Got)
}

// keyFileKind names the host key file OpenSSH keeps a key of this type in
// (ssh_host_KIND_key.pub).
func keyFileKind(authorizedKey string) string {
	k, err := parseHostKey(authorizedKey)
	if err != nil {
		return "ed25519"
	}
	switch t := k.Type(); {
	case t == ssh.KeyAlgoRSA:
		return "rsa"
	case strings.HasPrefix(t, "ecdsa-"):
		return "ecdsa"
	default:
		return "ed25519"
	}
}

// Fingerprint returns the SHA256 fingerprint ("SHA256:...") of a key in
// authorized_keys form (or a known_hosts line, see ParseHostKey).
func Fingerprint(authorizedKey string) (string, error) {
	k, err := parseHostKey(authorizedKey)
	if err != nil {
		return "", err
	}
	return ssh.FingerprintSHA256(k), nil
}

// ParseHostKey reads one host key given either in authorized_keys form
// ("ssh-ed25519 AAAA... comment", as in /etc/ssh/ssh_host_ed25519_key.pub)
// or as a known_hosts line ("[h]:2222 ssh-ed25519 AAAA...", as ssh-keyscan
// prints it; hashed host names are fine) and returns it normalized:
// "TYPE BASE64", without comment or host names. Blank lines and # comments
// are skipped; more than one key, a @cert-authority or a @revoked line is an
// error.
func ParseHostKey(s string) (string, error) {
	k, err := parseHostKey(s)
	if err != nil {
		return "", err
	}
	return authorizedKey(k), nil
}

// parseHostKey is ParseHostKey returning the key. Pins are read with it, so a
// pinned key may be given in either form.
func parseHostKey(s string) (ssh.PublicKey, error) {
	var (
		keys []ssh.PublicKey
		errs []error
	)
	for line := range strings.Lines(s) {
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		k, err := parseHostKeyLine(line)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		keys = append(keys, k)
	}
	switch {
	case len(errs) > 0:
		return nil, fmt.Errorf("parse host key %q: %w", s, errors.Join(errs...))
	case len(keys) == 0:
		return nil, fmt.Errorf("parse host key %q: no key given", s)
	case len(keys) > 1:
		var types []string
		for _, k := range keys {
			types = append(types, k.Type())
		}
		return nil, fmt.Errorf("parse host key %q: %d keys given (%s): pin one, ssh-ed25519 if the host has it",
			s, len(keys), strings.Join(types, ", "))
	}
	return keys[0], nil
}

func parseHostKeyLine(line string) (ssh.PublicKey, error) {
	// authorized_keys form, without options: a host key has none (and a
	// known_hosts line would parse as one with its hosts for options).
	if k, _, options, _, err := ssh.ParseAuthorizedKey([]byte(line)); err == nil && len(options) == 0 {
		return k, nil
	}
	marker, _, k, _, _, err := ssh.ParseKnownHosts([]byte(line))
	if err != nil {
		return nil, errors.New(`want "TYPE BASE64 [COMMENT]" (authorized_keys form) or a known_hosts line "HOST TYPE BASE64"`)
	}
	if marker != "" {
		return nil, fmt.Errorf("a @%s line does not give a host key", marker)
	}
	return k, nil
}

// KnownHostsLine returns the known_hosts line ("HOST TYPE BASE64", or
// "[HOST]:PORT TYPE BASE64" for a port other than 22, as
// golang.org/x/crypto/ssh/knownhosts writes them) that pins authorizedKey
// (either form ParseHostKey reads) for host at port; port 0 means 22.
func KnownHostsLine(host string, port int, authorizedKey string) (string, error) {
	if port == 0 {
		port = DefaultPort
	}
	host = strings.TrimSuffix(strings.TrimPrefix(host, "["), "]")
	if host == "" || strings.ContainsAny(host, " \t\r\n,#*?!|[]") {
		return "", fmt.Errorf("known_hosts line for %q: not a host name or address", host)
	}
	if port < 0 || port > 65535 {
		return "", fmt.Errorf("known_hosts line for %s: port %d out of range", host, port)
	}
	k, err := parseHostKey(authorizedKey)
	if err != nil {
		return "", fmt.Errorf("known_hosts line for %s: %w", host, err)
	}
	return knownhosts.Line([]string{net.JoinHostPort(host, strconv.Itoa(port))}, k), nil
}

// describeKey is "SHA256:... (ssh-ed25519)", or the raw text when it does not
// parse.
func describeKey(authorizedKey string) string {
	k, err := parseHostKey(authorizedKey)
	if err != nil {
		return fmt.Sprintf("%q (unparsable)", authorizedKey)
	}
	return fmt.Sprintf("%s (%s)", ssh.FingerprintSHA256(k), k.Type())
}

// authorizedKey renders k as "TYPE BASE64" without a trailing newline.
func authorizedKey(k ssh.PublicKey) string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k)))
}

// SameHostKey reports whether two host keys, each in authorized_keys or
// known_hosts form (see ParseHostKey), are the same key.
func SameHostKey(a, b string) bool {
	ka, errA := parseHostKey(a)
	kb, errB := parseHostKey(b)
	return errA == nil && errB == nil && sameKey(ka, kb)
}

func sameKey(a, b ssh.PublicKey) bool {
	return bytes.Equal(a.Marshal(), b.Marshal())
}

// plainHostKeyAlgorithms are the host key algorithms ferry asks for, in
// OpenSSH's order of preference: plain keys only (a host certificate is not
// a key to pin), ssh-rsa (SHA-1) last for old servers.
func plainHostKeyAlgorithms() []string {
	return []string{
		ssh.KeyAlgoED25519,
		ssh.KeyAlgoECDSA256, ssh.KeyAlgoECDSA384, ssh.KeyAlgoECDSA521,
		ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256,
		ssh.KeyAlgoRSA,
	}
}

// hostKeyAlgorithms makes the server present a key of the pinned type, so a
// host with several host keys is not mistaken for a changed one; the other
// types follow, so that a host without a key of that type presents another
// one, a mismatch, rather than failing the handshake with "no common
// algorithm". Without a pin: plainHostKeyAlgorithms.
func hostKeyAlgorithms(pinned ssh.PublicKey) []string {
	var first []string
	if pinned != nil {
		switch pinned.Type() {
		case ssh.KeyAlgoRSA:
			first = []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
		case ssh.CertAlgoRSAv01:
			first = []string{ssh.CertAlgoRSASHA512v01, ssh.CertAlgoRSASHA256v01, ssh.CertAlgoRSAv01}
		default:
			first = []string{pinned.Type()}
		}
	}
	algos := first
	for _, a := range plainHostKeyAlgorithms() {
		if !slices.Contains(algos, a) {
			algos = append(algos, a)
		}
	}
	return algos
}

// ReadHostKey reads an ed25519 private host key without a passphrase
// (OpenSSH's format, as ssh-keygen -t ed25519 writes it, or PKCS#8) from
// path and returns it in OpenSSH's format with its public half in
// authorized_keys form. Errors name path, never the key.
func ReadHostKey(path string) (private []byte, public string, err error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, "", err
	}
	raw, err := ssh.ParseRawPrivateKey(data)
	if err != nil {
		var missing *ssh.PassphraseMissingError
		if errors.As(err, &missing) {
			return nil, "", fmt.Errorf("%s: the key has a passphrase: a host key must not", path)
		}
		return nil, "", fmt.Errorf("%s: not an OpenSSH private key", path)
	}
	signer, err := ssh.NewSignerFromKey(raw)
	if err != nil {
		return nil, "", fmt.Errorf("%s: not a private key ferry can use", path)
	}
	if t := signer.PublicKey().Type(); t != ssh.KeyAlgoED25519 {
		return nil, "", fmt.Errorf("%s: a %s key: want an ed25519 one (ssh-keygen -t ed25519 -N '' -f FILE)", path, t)
	}
	// In OpenSSH's own format, as sshd reads it (a PKCS#8 file may not be).
	block, err := ssh.MarshalPrivateKey(raw, "")
	if err != nil {
		return nil, "", fmt.Errorf("%s: %w", path, err)
	}
	return pem.EncodeToMemory(block), authorizedKey(signer.PublicKey()), nil
}

// NewHostKey generates an ed25519 host key: the private key in OpenSSH
// form (what sshd reads from /etc/ssh/ssh_host_ed25519_key) and the
// public key in authorized_keys form without comment, as ferry pins it.
func NewHostKey(comment string) (private []byte, public string, err error) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, "", err
	}
	block, err := ssh.MarshalPrivateKey(priv, comment)
	if err != nil {
		return nil, "", err
	}
	signer, err := ssh.NewSignerFromKey(priv)
	if err != nil {
		return nil, "", err
	}
	return pem.EncodeToMemory(block), authorizedKey(signer.PublicKey()), nil
}
