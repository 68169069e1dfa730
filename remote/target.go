package remote

import (
	"net"
	"strconv"
	"strings"
)

// DefaultPort and DefaultUser apply when a Target leaves Port or User empty.
const (
	DefaultPort = 22
	DefaultUser = "root"
)

// Target says how a machine is reached over SSH.
type Target struct {
	Host string
	Port int    // 0 means DefaultPort
	User string // "" means DefaultUser
	// HostKey pins the host's public key in authorized_keys form
	// ("ssh-ed25519 AAAA..."); "" means the Dialer's known keys, then trust on
	// first use.
	HostKey string
	// Jump, when set, is the host the connection goes through (like ssh -J).
	Jump *Target
	// Sudo runs every command as `sudo -n -- sh -c CMD`.
	Sudo bool
}

// withDefaults fills Port and User.
func (t Target) withDefaults() Target {
	if t.Port == 0 {
		t.Port = DefaultPort
	}
	if t.User == "" {
		t.User = DefaultUser
	}
	return t
}

// Address is the host:port the target's SSH server listens on; it is the key
// of Options.KnownHostKeys and Dialer.HostKeys.
func (t Target) Address() string {
	t = t.withDefaults()
	return net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
}

// Name is how errors name the host: the host alone on port 22, host:port
// otherwise.
func (t Target) Name() string {
	t = t.withDefaults()
	if t.Port == DefaultPort {
		return t.Host
	}
	return t.Address()
}

// String is user@host:port, followed by the jump chain.
func (t Target) String() string {
	t = t.withDefaults()
	var b strings.Builder
	b.WriteString(t.User)
	b.WriteByte('@')
	b.WriteString(t.Address())
	if t.Jump != nil {
		b.WriteString(" via ")
		b.WriteString(t.Jump.String())
	}
	return b.String()
}

// poolKey identifies one connection: the same user, address and jump chain
// share a connection whatever Sudo or HostKey say (the host key is checked
// against the established connection instead).
func (t Target) poolKey() string {
	return t.String()
}
