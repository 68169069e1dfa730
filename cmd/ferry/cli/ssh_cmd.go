package cli

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// SSHCmd is `ferry ssh NAME [-- CMD...]`.
type SSHCmd struct {
	Name    string   `arg:"" name:"machine" help:"The machine, by name."`
	Command []string `arg:"" optional:"" passthrough:"partial" name:"command" help:"A command to run instead of a shell, after -- (joined with spaces and run by the host's shell, as OpenSSH does)."`
}

// Run opens a shell on the machine, or runs a command there.
//
// A shell runs the OpenSSH client, attached to ferry's terminal, so that
// everything a terminal does works; it trusts only the host key pinned in
// the configuration or state (a temporary known_hosts file, strict
// checking). A command runs over ferry's own SSH, streams the output and
// exits with the command's exit status.
func (c *SSHCmd) Run(a *App) error {
	f, m, err := a.openMachine(c.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	words := dropDashes(c.Command)
	if len(words) == 0 {
		return c.shell(a, f, m)
	}
	conn, err := f.dial(a.ctx, m)
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	// Stdin goes to the command; the session stops reading it when the
	// command exits, whether or not it read it.
	err = conn.Run(a.ctx, userCommand(words), remote.RunOptions{Stdin: a.Stdin, Stdout: a.Stdout, Stderr: a.Stderr})
	if err == nil {
		return nil
	}
	if code, ok := remoteExit(err); ok {
		return &ExitError{Code: code} // the command's own output said why
	}
	var re *remote.ExitError
	if errors.As(err, &re) && re.Signal != "" {
		return fmt.Errorf("machine %s: the command was killed by signal %s", m.Name, re.Signal)
	}
	return fmt.Errorf("machine %s: %w", m.Name, err)
}

// shell runs the OpenSSH client for an interactive login.
func (c *SSHCmd) shell(a *App, f *fleet, m *spec.Machine) error {
	name := m.Name
	ssh, err := exec.LookPath("ssh")
	if err != nil {
		return fmt.Errorf("the OpenSSH client (ssh) is needed for a shell: install it (apt-get install openssh-client), or run one command with `ferry ssh %s -- CMD`", name)
	}
	t, err := f.target(m)
	if err != nil {
		return err
	}
	if missingKey(t) {
		// Trust on first use, as plan does: learn the key over ferry's own
		// SSH, then let OpenSSH insist on exactly that key.
		if _, err := f.dial(a.ctx, m); err != nil {
			return fmt.Errorf("machine %s: %w", name, err)
		}
		seen := f.dialer.HostKeys()
		for h := &t; h != nil; h = h.Jump {
			if h.HostKey == "" {
				h.HostKey = seen[h.Address()]
				fp, _ := remote.Fingerprint(h.HostKey)
				fmt.Fprintf(a.Stderr, "note: no pinned host key for %s (none in the configuration, none recorded by a deploy): trusting the key it presents now, %s\n", h.Address(), fp)
			}
		}
	}
	known, err := os.CreateTemp("", "ferry-known-hosts-")
	if err != nil {
		return fmt.Errorf("ssh %s: temporary known_hosts file: %w", name, err)
	}
	defer os.Remove(known.Name())
	var lines strings.Builder
	for h := &t; h != nil; h = h.Jump {
		line, err := remote.KnownHostsLine(h.Host, h.Port, h.HostKey)
		if err != nil {
			_ = known.Close()
			return fmt.Errorf("ssh %s: %w", name, err)
		}
		lines.WriteString(line + "\n")
	}
	_, err = known.WriteString(lines.String())
	if cerr := known.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("ssh %s: write %s: %w", name, known.Name(), err)
	}

	cmd := exec.Command(ssh, openSSHArgs(ssh, t, known.Name(), append(a.keyFiles(), a.sshIdentities...))...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.Stdin, a.Stdout, a.Stderr
	// No context: interrupts belong to the remote shell (the terminal is
	// raw while ssh runs) and ssh ends itself when the session ends.
	err = cmd.Run()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return nil
	case errors.As(err, &ee) && ee.ExitCode() >= 0:
		return &ExitError{Code: ee.ExitCode()}
	default:
		return fmt.Errorf("ssh %s: %w", name, err)
	}
}

func missingKey(t remote.Target) bool {
	for h := &t; h != nil; h = h.Jump {
		if h.HostKey == "" {
			return true
		}
	}
	return false
}

// openSSHArgs are the OpenSSH client's arguments to log in to t trusting
// only the keys in knownHosts. Jump hosts become a ProxyCommand running the
// same client with the same options, because options given on ssh's
// command line do not reach -J hosts.
func openSSHArgs(ssh string, t remote.Target, knownHosts string, keyFiles []string) []string {
	return append(openSSHOptions(ssh, t, knownHosts, keyFiles), openSSHDestination(t)...)
}

func openSSHOptions(ssh string, t remote.Target, knownHosts string, keyFiles []string) []string {
	port := t.Port
	if port == 0 {
		port = remote.DefaultPort
	}
	args := []string{
		"-p", strconv.Itoa(port),
		"-o", "UserKnownHostsFile=" + knownHosts,
		"-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "StrictHostKeyChecking=yes",
		"-o", "UpdateHostKeys=no",
	}
	for _, k := range keyFiles {
		args = append(args, "-i", k)
	}
	if t.Jump != nil {
		inner := append([]string{ssh}, openSSHOptions(ssh, *t.Jump, knownHosts, keyFiles)...)
		inner = append(inner, "-W", "%h:%p")
		inner = append(inner, openSSHDestination(*t.Jump)...)
		words := make([]string, len(inner))
		for i, w := range inner {
			if w != "%h:%p" { // ssh's own expansion; any other % is literal
				w = strings.ReplaceAll(w, "%", "%%")
			}
			words[i] = remote.Quote(w)
		}
		args = append(args, "-o", "ProxyCommand="+strings.Join(words, " "))
	}
	return args
}

func openSSHDestination(t remote.Target) []string {
	user := t.User
	if user == "" {
		user = remote.DefaultUser
	}
	return []string{"-l", user, "--", t.Host}
}
