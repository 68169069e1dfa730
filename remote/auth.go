package remote

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// defaultKeyFiles are tried, when present, if Options.KeyFiles is nil.
var defaultKeyFileNames = [...]string{"id_ed25519", "id_ecdsa", "id_rsa"}

// authMethods builds the client's authentication from Options: explicit
// signers, then the agent, then key files. It also returns a short
// description of what was tried, for error messages.
func (d *Dialer) loadAuth() ([]ssh.AuthMethod, string, error) {
	var (
		signers []ssh.Signer
		tried   []string
		methods []ssh.AuthMethod
	)
	signers = append(signers, d.opts.Signers...)
	if len(d.opts.Signers) > 0 {
		tried = append(tried, givenKeys(len(d.opts.Signers)))
	}

	files, explicit := d.opts.KeyFiles, d.opts.KeyFiles != nil
	if !explicit {
		home := d.opts.HomeDir
		if home == "" {
			home, _ = os.UserHomeDir()
		}
		if home != "" {
			for _, name := range defaultKeyFileNames {
				files = append(files, filepath.Join(home, ".ssh", name))
			}
		}
	}
	firstConfig := len(files) // files from here on are ConfigKeyFiles
	for _, f := range d.opts.ConfigKeyFiles {
		if !slices.Contains(files, f) {
			files = append(files, f)
		}
	}
	for i, f := range files {
		s, err := loadKeyFile(f)
		if err != nil {
			if (!explicit || i >= firstConfig) && (errors.Is(err, os.ErrNotExist) || isPassphraseError(err)) {
				continue // default keys are optional; encrypted ones are left to the agent
			}
			return nil, "", err
		}
		signers = append(signers, s)
		tried = append(tried, f)
	}

	if len(signers) > 0 {
		methods = append(methods, ssh.PublicKeys(signers...))
	}

	if !d.opts.NoAgent {
		sock := d.opts.AgentSocket
		if sock == "" {
			sock = os.Getenv("SSH_AUTH_SOCK")
		}
		if sock != "" {
			conn, err := net.Dial("unix", sock)
			if err != nil {
				return nil, "", fmt.Errorf("connect to ssh-agent at %s: %w (unset SSH_AUTH_SOCK or start the agent)", sock, err)
			}
			d.agentConn = conn
			methods = append(methods, ssh.PublicKeysCallback(agent.NewClient(conn).Signers))
			tried = append(tried, "ssh-agent")
		}
	}
	if len(methods) == 0 {
		return nil, "", errors.New("no SSH key to log in with: start ssh-agent (SSH_AUTH_SOCK), " +
			"create ~/.ssh/id_ed25519, or pass key files")
	}
	return methods, strings.Join(tried, ", "), nil
}

func loadKeyFile(path string) (ssh.Signer, error) {
	pem, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read SSH key %s: %w", path, err)
	}
	s, err := ssh.ParsePrivateKey(pem)
	if err != nil {
		if isPassphraseError(err) {
			return nil, fmt.Errorf("SSH key %s is protected by a passphrase: add it to ssh-agent instead: %w", path, err)
		}
		return nil, fmt.Errorf("parse SSH key %s: %w", path, err)
	}
	return s, nil
}

func isPassphraseError(err error) bool {
	var pm *ssh.PassphraseMissingError
	return errors.As(err, &pm)
}

// givenKeys counts the keys given to the dialer (remote may not import
// engine/spec, whose Count says the same).
func givenKeys(n int) string {
	if n == 1 {
		return "1 given key"
	}
	return fmt.Sprintf("%d given keys", n)
}
