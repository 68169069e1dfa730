package nix

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"syscall"
	"time"
)

// Nix says how to run Nix's command-line tools. The zero value runs them
// from PATH with the user's nix.conf: remote builders, substituters and
// max-jobs stay the user's.
type Nix struct {
	// Bin is the folder holding nix-instantiate and nix-store; empty means
	// they are looked up in PATH.
	Bin string
	// Options are passed as --option NAME VALUE to every command, for
	// example {"substituters": ""} where no binary cache can be reached.
	Options map[string]string
	// Env is added to the environment of every command (NIX_PATH=...,
	// NIX_CONFIG=...).
	Env []string
}

// result is what one Nix command did.
type result struct {
	stdout []byte
	stderr []byte
	maxRSS int64 // peak resident memory of the process, in bytes
}

func (n Nix) command(ctx context.Context, tool string, args []string) *exec.Cmd {
	path := tool
	if n.Bin != "" {
		path = filepath.Join(n.Bin, tool)
	}
	full := make([]string, 0, len(args)+3*len(n.Options))
	keys := make([]string, 0, len(n.Options))
	for k := range n.Options {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		full = append(full, "--option", k, n.Options[k])
	}
	full = append(full, args...)
	cmd := exec.CommandContext(ctx, path, full...)
	if len(n.Env) > 0 {
		cmd.Env = append(os.Environ(), n.Env...)
	}
	// Nix cleans up (temporary roots, half-built outputs) on SIGTERM.
	cmd.Cancel = func() error { return cmd.Process.Signal(syscall.SIGTERM) }
	cmd.WaitDelay = 10 * time.Second
	return cmd
}

// run runs a Nix tool to completion. With a log stream, the tool writes
// --log-format internal-json into it (nixlog.go) and the result's stderr
// is the stream's transcript: the text Nix would have printed. A non-zero
// exit is returned as an *exitError carrying stderr.
func (n Nix) run(ctx context.Context, log *logStream, tool string, args ...string) (result, error) {
	if log != nil {
		args = append(slices.Clone(logFormat), args...)
	}
	cmd := n.command(ctx, tool, args)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if log != nil {
		cmd.Stderr = log
	}
	err := cmd.Run()
	res := result{stdout: stdout.Bytes(), stderr: stderr.Bytes()}
	if log != nil {
		res.stderr = log.Transcript()
	}
	if cmd.ProcessState != nil {
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			res.maxRSS = int64(ru.Maxrss) * 1024 // kilobytes on Linux
		}
	}
	if err == nil {
		return res, nil
	}
	if ctxErr := ctx.Err(); ctxErr != nil {
		return res, fmt.Errorf("%s: %w", tool, ctxErr)
	}
	if errors.Is(err, exec.ErrNotFound) || errors.Is(err, os.ErrNotExist) {
		return res, fmt.Errorf("run %s: %w; install Nix (apt-get install nix-bin, or https://nixos.org/download) or put its bin folder in PATH", tool, err)
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return res, &exitError{tool: tool, err: ee, stderr: string(res.stderr)}
	}
	return res, fmt.Errorf("run %s: %w", tool, err)
}

// exitError is a Nix tool that ran and failed.
type exitError struct {
	tool   string
	err    *exec.ExitError
	stderr string
}

func (e *exitError) Error() string {
	msg := nixMessage(e.stderr)
	if msg == "" {
		return fmt.Sprintf("%s: %v", e.tool, e.err)
	}
	return fmt.Sprintf("%s: %s", e.tool, msg)
}

func (e *exitError) Unwrap() error { return e.err }

// nixMessage extracts Nix's error from its stderr: from the first "error:"
// line to the end, without the "error: " prefix and the indentation Nix
// gives the following lines, and without the "(use '--show-trace' ...)"
// hint (callers give their own). Without an "error:" line, the last few
// lines.
func nixMessage(stderr string) string {
	lines := strings.Split(strings.TrimRight(stderr, "\n"), "\n")
	start := -1
	for i, l := range lines {
		if strings.HasPrefix(l, "error:") {
			start = i
			break
		}
	}
	if start < 0 {
		return strings.TrimSpace(strings.Join(lines[max(0, len(lines)-5):], "\n"))
	}
	const indent = "       " // len("error: ")
	var kept []string
	for i, l := range lines[start:] {
		switch {
		case strings.HasPrefix(l, "(use '--show-trace'"):
			continue
		case i == 0:
			l = strings.TrimSpace(strings.TrimPrefix(l, "error:"))
		case strings.HasPrefix(l, "error:"):
			// A further error (nix-store --keep-going): one per line.
		default:
			l = strings.TrimPrefix(l, indent)
		}
		kept = append(kept, l)
	}
	return strings.TrimSpace(strings.Join(kept, "\n"))
}
