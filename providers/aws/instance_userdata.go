package aws

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"strings"

	"golang.org/x/crypto/ssh"
)

// hostKeyTag carries the public SSH host key of an instance made with
// nixos_host_key, so that reads, imports and adoptions report it.
const hostKeyTag = "ferry:host-key"

// The user data lines NixOS's EC2 images read the SSH host key from
// (nixos/modules/virtualisation/ec2-data.nix), as NixOps wrote them: the
// OpenSSH private key with its newlines replaced by "|", and the public
// key line.
const (
	hostKeyLine    = "SSH_HOST_ED25519_KEY:"
	hostKeyPubLine = "SSH_HOST_ED25519_KEY_PUB:"
)

// maxUserData is EC2's limit on user data, before base64.
const maxUserData = 16 * 1024

// hostKey is a new machine's SSH host key.
type hostKey struct {
	private string // OpenSSH PEM, newline-terminated; never in state
	public  string // "ssh-ed25519 AAAA..."
}

// newHostKey generates an ed25519 host key.
func newHostKey() (hostKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return hostKey{}, fmt.Errorf("generate an SSH host key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "")
	if err != nil {
		return hostKey{}, fmt.Errorf("encode the SSH host key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pub)
	if err != nil {
		return hostKey{}, fmt.Errorf("encode the SSH host key: %w", err)
	}
	return hostKey{
		private: string(pem.EncodeToMemory(block)),
		public:  strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))),
	}, nil
}

// withHostKey is the user data of an instance with host key k: the
// configured user data (if any), a newline, and the two host key lines.
// They go last, so that a user data script keeps its #! line first.
func withHostKey(userData string, k hostKey) string {
	lines := hostKeyLine + strings.ReplaceAll(k.private, "\n", "|") + "\n" + hostKeyPubLine + k.public + "\n"
	if userData == "" {
		return lines
	}
	return userData + "\n" + lines
}

// withoutHostKey is the configured part of user data withHostKey made:
// what comes before the host key lines.
func withoutHostKey(userData string) string {
	i := strings.Index(userData, hostKeyLine)
	switch {
	case i < 0:
		return userData
	case i == 0:
		return ""
	}
	return strings.TrimSuffix(userData[:i], "\n")
}
