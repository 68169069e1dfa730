package awstest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// MotoVersion is the moto release the test bed runs; install-deps.sh
// installs the same one.
const MotoVersion = "5.2.5"

// VenvEnv names the environment variable that overrides VenvDir.
const VenvEnv = "FERRY_MOTO_VENV"

// InstallCommand installs moto where VenvDir looks for it.
const InstallCommand = "sh remote/testhosts/install-deps.sh (or: go tool task deps)"

// userCache is the user cache folder as the test process started with
// it: tests that point HOME elsewhere must not lose moto.
var userCache, userCacheErr = os.UserCacheDir()

// VenvDir is the Python venv that holds moto: $FERRY_MOTO_VENV, else
// ferry/moto-VERSION in the user cache folder ($XDG_CACHE_HOME or
// ~/.cache, as install-deps.sh has it).
func VenvDir() (string, error) {
	if dir := os.Getenv(VenvEnv); dir != "" {
		return dir, nil
	}
	if userCacheErr != nil {
		return "", fmt.Errorf("find the moto venv: %w; set %s to the venv's folder", userCacheErr, VenvEnv)
	}
	return filepath.Join(userCache, "ferry", "moto-"+MotoVersion), nil
}

// ServerPath returns the moto_server of the venv, or an error saying how
// to install it.
func ServerPath() (string, error) {
	dir, err := VenvDir()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "bin", "moto_server")
	if st, err := os.Stat(bin); err != nil || st.IsDir() || st.Mode()&0o111 == 0 {
		return "", fmt.Errorf("moto %s is not installed: no %s; install it with %s, which runs python3 -m venv %s && %s/bin/pip install 'moto[server]==%s'",
			MotoVersion, bin, InstallCommand, dir, dir, MotoVersion)
	}
	return bin, nil
}

// Server is one moto_server process on 127.0.0.1.
type Server struct {
	URL  string // http://127.0.0.1:PORT
	Port int
	PID  int

	cmd     *exec.Cmd
	logPath string
	exited  chan struct{} // closed when the process has exited
	waitErr error         // set before exited is closed
}

// startAttempts is how often StartServer tries another port when moto
// could not listen on the one it was given (another process took it).
const startAttempts = 3

// readyTimeout bounds how long moto may take to answer (0.5 s measured).
const readyTimeout = 60 * time.Second

// StartServer starts moto_server on a free port of 127.0.0.1, logging to
// a file in logDir, and waits until it answers. moto knows its own images
// and NixOSImages (MOTO_AMIS_PATH, a file in logDir). The caller stops it with
// Stop.
func StartServer(ctx context.Context, logDir string) (*Server, error) {
	bin, err := ServerPath()
	if err != nil {
		return nil, err
	}
	amis, err := writeAMIs(logDir)
	if err != nil {
		return nil, err
	}
	var errs []error
	for attempt := range startAttempts {
		port, err := freePort()
		if err != nil {
			return nil, err
		}
		s := &Server{
			URL:     "http://127.0.0.1:" + strconv.Itoa(port),
			Port:    port,
			logPath: filepath.Join(logDir, fmt.Sprintf("moto-%d.log", attempt)),
			exited:  make(chan struct{}),
		}
		if err := s.start(bin, amis); err != nil {
			return nil, err
		}
		err = s.waitReady(ctx)
		if err == nil {
			return s, nil
		}
		_ = s.Stop()
		errs = append(errs, err)
		if ctx.Err() != nil {
			break
		}
	}
	return nil, errors.Join(errs...)
}

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port on 127.0.0.1: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func (s *Server) start(bin, amis string) error {
	log, err := os.Create(s.logPath)
	if err != nil {
		return fmt.Errorf("start moto: %w", err)
	}
	cmd := exec.Command(bin, "-H", "127.0.0.1", "-p", strconv.Itoa(s.Port))
	cmd.Stdout = log
	cmd.Stderr = log
	cmd.Env = append(os.Environ(), "PYTHONUNBUFFERED=1", "MOTO_AMIS_PATH="+amis)
	cmd.SysProcAttr = sysProcAttr()
	// The parent-death signal belongs to the OS thread that forks, not to
	// the process: start and wait on one locked thread, which therefore
	// lives as long as moto does.
	started := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		s.waitErr = cmd.Wait()
		close(s.exited)
	}()
	err = <-started
	log.Close() // the child holds its own descriptor
	if err != nil {
		return fmt.Errorf("start %s: %w", bin, err)
	}
	s.cmd = cmd
	s.PID = cmd.Process.Pid
	return nil
}

// waitReady polls GET /moto-api/ until it answers 200.
func (s *Server) waitReady(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, readyTimeout)
	defer cancel()
	client := &http.Client{Timeout: 2 * time.Second}
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, s.URL+"/moto-api/", nil)
		if resp, err := client.Do(req); err == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case <-s.exited:
			return fmt.Errorf("moto_server on port %d exited before it answered (%v):\n%s", s.Port, s.waitErr, s.LogTail())
		case <-ctx.Done():
			return fmt.Errorf("moto_server on port %d did not answer GET /moto-api/ within %s: %w\n%s", s.Port, readyTimeout, ctx.Err(), s.LogTail())
		case <-tick.C:
		}
	}
}

// Reset empties moto: every resource of every region and account is gone.
func (s *Server) Reset(ctx context.Context) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.URL+"/moto-api/reset", nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("reset moto: %w", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("reset moto: %s: %s", resp.Status, bytes.TrimSpace(body))
	}
	return nil
}

// Stop ends the process it started, by its PID: SIGTERM, then SIGKILL
// if it is still running after a few seconds.
func (s *Server) Stop() error {
	if s.cmd == nil {
		return nil
	}
	select {
	case <-s.exited:
		return nil
	default:
	}
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-s.exited:
		return nil
	case <-time.After(5 * time.Second):
	}
	if err := s.cmd.Process.Kill(); err != nil && !errors.Is(err, os.ErrProcessDone) {
		return fmt.Errorf("stop moto_server (pid %d): %w", s.PID, err)
	}
	<-s.exited
	return nil
}

// Exited reports whether the process has ended.
func (s *Server) Exited() bool {
	select {
	case <-s.exited:
		return true
	default:
		return false
	}
}

// LogTail returns the end of moto's log, for failure messages.
func (s *Server) LogTail() string {
	b, err := os.ReadFile(s.logPath)
	if err != nil {
		return fmt.Sprintf("(no moto log: %v)", err)
	}
	const keep = 4000
	if len(b) > keep {
		b = b[len(b)-keep:]
	}
	return strings.TrimSpace(string(b))
}
