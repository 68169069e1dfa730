package remote

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/kevinburke/ssh_config"
)

// SSHConfig is the user's OpenSSH client configuration (~/.ssh/config),
// read for the directives ferry's own SSH honours: HostName, User, Port,
// IdentityFile and ProxyJump. As in OpenSSH, the first value found for a
// host wins, and Host patterns (*, ?, !) match the name ferry is given.
// Directives that change how a connection is made and that ferry does not
// implement (ProxyCommand, ...) are reported by Host as Unsupported, for
// the caller to warn about; everything else is ignored. Parsing is left to
// github.com/kevinburke/ssh_config; Include directives with a relative
// path are read from the real user's ~/.ssh, as that parser does.
type SSHConfig struct {
	path string
	home string
	cfg  *ssh_config.Config
}

// unsupportedDirectives change where or how OpenSSH connects; ferry's SSH
// does not do them, so a host that uses one is probably not reached as
// its owner expects.
var unsupportedDirectives = [...]string{"ProxyCommand", "HostKeyAlias", "CertificateFile", "IdentityAgent", "PKCS11Provider", "ControlPath"}

// LoadSSHConfig reads the OpenSSH client configuration at path; home
// expands ~ in IdentityFile paths. A file that does not exist is an empty
// configuration.
func LoadSSHConfig(path, home string) (*SSHConfig, error) {
	c := &SSHConfig{path: path, home: home}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return c, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read SSH client configuration: %w", err)
	}
	defer f.Close()
	if c.cfg, err = ssh_config.Decode(f); err != nil {
		return nil, fmt.Errorf("SSH client configuration %s: %w (fix it, or pass --ssh-config none to read none)", path, err)
	}
	return c, nil
}

// Path is the file the configuration was read from.
func (c *SSHConfig) Path() string { return c.path }

// SSHHost is what an SSH client configuration says about one host name.
// Empty fields were not set.
type SSHHost struct {
	HostName      string
	Port          int
	User          string
	IdentityFiles []string // ~ and %d, %h, %r, %u, %% expanded
	// ProxyJump is the jump chain, the first host first (as ssh -J);
	// none when ProxyJump is unset or "none".
	ProxyJump []Target
	// Unsupported names the directives set for this host that change how
	// OpenSSH would connect and that ferry ignores.
	Unsupported []string
}

// Host looks alias up.
func (c *SSHConfig) Host(alias string) (SSHHost, error) {
	var h SSHHost
	if c == nil || c.cfg == nil {
		return h, nil
	}
	get := func(key string) (string, error) {
		v, err := c.cfg.Get(alias, key)
		if err != nil {
			return "", fmt.Errorf("%s: host %s: %s: %w", c.path, alias, key, err)
		}
		return strings.TrimSpace(v), nil
	}
	var err error
	if h.HostName, err = get("HostName"); err != nil {
		return h, err
	}
	h.HostName = strings.ReplaceAll(h.HostName, "%h", alias)
	if h.User, err = get("User"); err != nil {
		return h, err
	}
	port, err := get("Port")
	if err != nil {
		return h, err
	}
	if port != "" {
		if h.Port, err = strconv.Atoi(port); err != nil || h.Port <= 0 || h.Port > 65535 {
			return h, fmt.Errorf("%s: host %s: Port %q is not a port number", c.path, alias, port)
		}
	}
	jump, err := get("ProxyJump")
	if err != nil {
		return h, err
	}
	if h.ProxyJump, err = parseJumps(jump); err != nil {
		return h, fmt.Errorf("%s: host %s: ProxyJump: %w", c.path, alias, err)
	}
	files, err := c.cfg.GetAll(alias, "IdentityFile")
	if err != nil {
		return h, fmt.Errorf("%s: host %s: IdentityFile: %w", c.path, alias, err)
	}
	for _, f := range files {
		h.IdentityFiles = append(h.IdentityFiles, c.expand(strings.TrimSpace(f), alias, h))
	}
	for _, d := range unsupportedDirectives {
		if v, err := get(d); err == nil && v != "" && !strings.EqualFold(v, "none") {
			h.Unsupported = append(h.Unsupported, d)
		}
	}
	return h, nil
}

// expand does OpenSSH's ~ and the % tokens that make sense here.
func (c *SSHConfig) expand(path, alias string, h SSHHost) string {
	host := h.HostName
	if host == "" {
		host = alias
	}
	user := h.User
	if user == "" {
		user = DefaultUser
	}
	if strings.HasPrefix(path, "~/") && c.home != "" {
		path = filepath.Join(c.home, path[2:])
	}
	return strings.NewReplacer("%%", "%", "%d", c.home, "%h", host, "%r", user, "%u", user).Replace(path)
}

// parseJumps parses ProxyJump's [user@]host[:port][,...]; "none" and ""
// are no jump.
func parseJumps(s string) ([]Target, error) {
	if s == "" || strings.EqualFold(s, "none") {
		return nil, nil
	}
	var out []Target
	for _, hop := range strings.Split(s, ",") {
		hop = strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(hop), "ssh://"))
		var t Target
		if u, rest, ok := strings.Cut(hop, "@"); ok {
			t.User, hop = u, rest
		}
		host, port := hop, ""
		if strings.HasPrefix(hop, "[") {
			if end := strings.Index(hop, "]"); end > 0 {
				host, port = hop[1:end], strings.TrimPrefix(hop[end+1:], ":")
			}
		} else if h, p, ok := strings.Cut(hop, ":"); ok {
			host, port = h, p
		}
		if host == "" {
			return nil, fmt.Errorf("%q: no host", s)
		}
		t.Host = host
		if port != "" {
			n, err := strconv.Atoi(port)
			if err != nil || n <= 0 || n > 65535 {
				return nil, fmt.Errorf("%q: %q is not a port number", s, port)
			}
			t.Port = n
		}
		out = append(out, t)
	}
	return out, nil
}
