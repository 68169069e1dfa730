package remote_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"

	"github.com/nixferry/ferry/remote"
)

// commands is the handler of the in-process server: a few fixed commands
// standing in for a shell. Tests that need a command to wait for something
// wrap it with their own (see TestRun).
func commands(cmd string, s session) int {
	switch cmd {
	case "echo hello":
		fmt.Fprintln(s.stdout, "hello")
		return 0
	case "cat":
		io.Copy(s.stdout, s.stdin)
		return 0
	default:
		fmt.Fprintf(s.stderr, "sh: %s: not found\n", cmd)
		return 127
	}
}

// newPair returns a server running commands and a Dialer that logs in to it.
func newPair(t *testing.T, opts remote.Options) (*testServer, *remote.Dialer) {
	t.Helper()
	return newPairWith(t, opts, commands)
}

// newPairWith is newPair with the server running h.
func newPairWith(t *testing.T, opts remote.Options, h handler) (*testServer, *remote.Dialer) {
	t.Helper()
	key := newKey(t)
	srv := newTestServer(t, key.PublicKey(), h)
	opts.Signers = []ssh.Signer{key}
	opts.KeyFiles = []string{}
	opts.NoAgent = true
	d := remote.NewDialer(opts)
	t.Cleanup(func() { d.Close() })
	return srv, d
}

func TestTrustOnFirstUseReportsTheKey(t *testing.T) {
	ctx := context.Background()
	srv, d := newPair(t, remote.Options{})
	conn, err := d.Dial(ctx, srv.target())
	if err != nil {
		t.Fatal(err)
	}
	if conn.HostKey() != srv.hostKeyLine {
		t.Errorf("Conn.HostKey() = %q, want %q", conn.HostKey(), srv.hostKeyLine)
	}
	want := map[string]string{srv.target().Address(): srv.hostKeyLine}
	if diff := cmp.Diff(want, d.HostKeys()); diff != "" {
		t.Errorf("Dialer.HostKeys() (-want +got):\n%s", diff)
	}
}

func TestPinnedHostKeys(t *testing.T) {
	other := keyLine(newKey(t).PublicKey())
	tests := []struct {
		name      string
		targetKey string
		knownKey  string // in Options.KnownHostKeys
		mismatch  bool
	}{
		{name: "target key matches", targetKey: "SERVER"},
		{name: "target key differs", targetKey: other, mismatch: true},
		{name: "known key matches", knownKey: "SERVER"},
		{name: "known key differs", knownKey: other, mismatch: true},
		{name: "target key wins over known key", targetKey: "SERVER", knownKey: other},
		{name: "target key with a comment", targetKey: "SERVER root@host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			key := newKey(t)
			srv := newTestServer(t, key.PublicKey(), commands)
			resolve := func(k string) string { return strings.Replace(k, "SERVER", srv.hostKeyLine, 1) }
			target := srv.target()
			target.HostKey = resolve(tt.targetKey)
			known := map[string]string{}
			if tt.knownKey != "" {
				known[target.Address()] = resolve(tt.knownKey)
			}
			d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true, KnownHostKeys: known})
			defer d.Close()

			_, err := d.Dial(context.Background(), target)
			var mm *remote.HostKeyMismatchError
			if !tt.mismatch {
				if err != nil {
					t.Fatalf("Dial: %v", err)
				}
				return
			}
			if !errors.As(err, &mm) {
				t.Fatalf("Dial: got %v, want *HostKeyMismatchError", err)
			}
			want := remote.HostKeyMismatchError{Host: target.Address(), Want: other, Got: srv.hostKeyLine}
			if diff := cmp.Diff(want, *mm); diff != "" {
				t.Errorf("mismatch error (-want +got):\n%s", diff)
			}
			wantFP, _ := remote.Fingerprint(other)
			gotFP, _ := remote.Fingerprint(srv.hostKeyLine)
			for _, s := range []string{wantFP, gotFP, target.Address(), "update the pinned host key"} {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("message %q does not contain %q", err, s)
				}
			}
			if n := srv.logins.Load(); n != 0 {
				t.Errorf("the client logged in %d times to a host with the wrong key", n)
			}
		})
	}
}

func TestPinCheckedOnASharedConnection(t *testing.T) {
	// A connection made on trust for one Target must not serve another
	// Target of the same host that pins a different key.
	ctx := context.Background()
	srv, d := newPair(t, remote.Options{})
	if _, err := d.Dial(ctx, srv.target()); err != nil {
		t.Fatal(err)
	}
	pinned := srv.target()
	pinned.HostKey = keyLine(newKey(t).PublicKey())
	var mm *remote.HostKeyMismatchError
	if _, err := d.Dial(ctx, pinned); !errors.As(err, &mm) {
		t.Fatalf("Dial with another pinned key: got %v, want *HostKeyMismatchError", err)
	}
}

func TestOneConnectionPerTargetForConcurrentWork(t *testing.T) {
	// Each command waits until MaxSessions commands run at once, so the
	// bound is reached however the goroutines are scheduled; afterwards
	// they return at once.
	const maxSessions = 3
	var inside atomic.Int32
	full := make(chan struct{})
	var fullOnce sync.Once
	ctx := context.Background()
	srv, d := newPairWith(t, remote.Options{MaxSessions: maxSessions}, func(cmd string, s session) int {
		if cmd != "together" {
			return commands(cmd, s)
		}
		if inside.Add(1) == maxSessions {
			fullOnce.Do(func() { close(full) })
		}
		defer inside.Add(-1)
		select {
		case <-full:
			return 0
		case <-s.closed:
			return 1
		case <-time.After(eventDeadline):
			fmt.Fprintf(s.stderr, "never %d commands at once\n", maxSessions)
			return 1
		}
	})
	var wg sync.WaitGroup
	errs := make(chan error, 30)
	for range 30 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			conn, err := d.Dial(ctx, srv.target())
			if err == nil {
				err = conn.Run(ctx, "together", remote.RunOptions{})
			}
			errs <- err
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	if n := srv.logins.Load(); n != 1 {
		t.Errorf("server saw %d logins, want 1", n)
	}
	if n := srv.maxRunning.Load(); n != maxSessions {
		t.Errorf("at most %d commands ran at once; want MaxSessions=%d", n, maxSessions)
	}
}

func TestReconnectsAfterTheConnectionDrops(t *testing.T) {
	ctx := context.Background()
	srv, d := newPair(t, remote.Options{})
	conn, err := d.Dial(ctx, srv.target())
	if err != nil {
		t.Fatal(err)
	}
	// A first command makes sure the server has registered the connection.
	if err := conn.Run(ctx, "echo hello", remote.RunOptions{}); err != nil {
		t.Fatal(err)
	}
	srv.dropConnections()
	// Dial hands out the old connection until the Dialer has seen it end;
	// then it connects anew (the server's second login), still checking the
	// key seen first. Nothing runs on the old connection meanwhile: a
	// session opened while x/crypto/ssh shuts a connection down can wait
	// for an answer forever (its mux drops the open channels before it
	// closes the connection).
	var fresh *remote.Conn
	deadline := time.Now().Add(eventDeadline)
	for srv.logins.Load() < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("Dial still hands out the dropped connection after %v", eventDeadline)
		}
		if fresh, err = d.Dial(ctx, srv.target()); err != nil {
			t.Fatal(err)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := conn.Run(ctx, "echo hello", remote.RunOptions{}); err == nil {
		t.Fatal("Run on a dropped connection succeeded")
	}
	if err := fresh.Run(ctx, "echo hello", remote.RunOptions{}); err != nil {
		t.Fatalf("Run on the new connection: %v", err)
	}
	if n := srv.logins.Load(); n != 2 {
		t.Errorf("server saw %d logins, want 2", n)
	}
}

// inOrder is a caller's stream for Run that tells the server's command,
// through took, each time the client has taken one of its lines. The "fail" command of TestRun
// prints its next line, on either SSH stream, only then, so that the lines
// reach the tail in the order they were printed: Run hands each chunk to
// the caller's stream and to the tail under one lock (gatedWriter), so line
// i is in the tail before line i+1 can come in.
type inOrder struct {
	w    io.Writer
	took chan<- struct{}
}

func (o inOrder) Write(p []byte) (int, error) {
	n, err := o.w.Write(p)
	for range bytes.Count(p[:n], []byte("\n")) {
		o.took <- struct{}{}
	}
	return n, err
}

func TestRun(t *testing.T) {
	ctx := context.Background()
	took := make(chan struct{}, 64)
	blockStarted := make(chan struct{}, 1)
	srv, d := newPairWith(t, remote.Options{}, func(cmd string, s session) int {
		switch cmd {
		case "fail": // 30 lines alternating between stdout and stderr
			for i := 1; i <= 30; i++ {
				w := s.stdout
				if i%2 == 0 {
					w = s.stderr
				}
				fmt.Fprintf(w, "line %d\n", i)
				select {
				case <-took:
				case <-s.closed:
					return 1
				case <-time.After(eventDeadline):
					fmt.Fprintf(s.stderr, "the client never took line %d\n", i)
					return 1
				}
			}
			return 3
		case "block": // until the client closes the session
			blockStarted <- struct{}{}
			<-s.closed
			return 0
		}
		return commands(cmd, s)
	})
	conn, err := d.Dial(ctx, srv.target())
	if err != nil {
		t.Fatal(err)
	}

	t.Run("streams", func(t *testing.T) {
		var out strings.Builder
		if err := conn.Run(ctx, "cat", remote.RunOptions{Stdin: strings.NewReader("some input\n"), Stdout: &out}); err != nil {
			t.Fatal(err)
		}
		if out.String() != "some input\n" {
			t.Errorf("stdout = %q", out.String())
		}
	})

	t.Run("exit error carries the tail", func(t *testing.T) {
		var stderr strings.Builder
		err := conn.Run(ctx, "fail", remote.RunOptions{Stdout: inOrder{io.Discard, took}, Stderr: inOrder{&stderr, took}})
		var exit *remote.ExitError
		if !errors.As(err, &exit) {
			t.Fatalf("got %v, want *ExitError", err)
		}
		var tail []string
		for i := 11; i <= 30; i++ {
			tail = append(tail, fmt.Sprintf("line %d", i))
		}
		want := remote.ExitError{Host: srv.target().Address(), Cmd: "fail", Code: 3, Tail: strings.Join(tail, "\n") + "\n"}
		if diff := cmp.Diff(want, *exit); diff != "" {
			t.Errorf("ExitError (-want +got):\n%s", diff)
		}
		if !strings.HasPrefix(err.Error(), srv.target().Address()+`: command "fail" exited with status 3, last output:`+"\n    line 11\n") {
			t.Errorf("message:\n%s", err)
		}
		if !strings.HasPrefix(stderr.String(), "line 2\nline 4\n") {
			t.Errorf("stderr was not streamed: %q", stderr.String())
		}
	})

	t.Run("tail lines", func(t *testing.T) {
		err := conn.Run(ctx, "fail", remote.RunOptions{TailLines: 2, Stdout: inOrder{io.Discard, took}, Stderr: inOrder{io.Discard, took}})
		var exit *remote.ExitError
		if !errors.As(err, &exit) || exit.Tail != "line 29\nline 30\n" {
			t.Fatalf("got %#v", err)
		}
	})

	t.Run("cancel ends the session", func(t *testing.T) {
		// Cancelled once the command runs on the server; "block" ends only
		// when the client closes the session, so Run returning and the
		// server's session count coming down show that cancelling closed it.
		cctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			select {
			case <-blockStarted:
				cancel()
			case <-cctx.Done():
			}
		}()
		ran := make(chan error, 1)
		go func() { ran <- conn.Run(cctx, "block", remote.RunOptions{}) }()
		var err error
		select {
		case err = <-ran:
		case <-time.After(eventDeadline):
			t.Fatalf("Run still running %v after the command started", eventDeadline)
		}
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
		deadline := time.Now().Add(eventDeadline)
		for srv.sessions.Load() != 0 && time.Now().Before(deadline) {
			time.Sleep(5 * time.Millisecond)
		}
		if n := srv.sessions.Load(); n != 0 {
			t.Errorf("%d sessions still open on the server after cancellation", n)
		}
	})

	t.Run("output", func(t *testing.T) {
		out, err := conn.Output(ctx, "echo hello")
		if err != nil || out != "hello\n" {
			t.Errorf("Output = %q, %v", out, err)
		}
	})
}

func TestSudoWrapsTheCommand(t *testing.T) {
	ctx := context.Background()
	srv, d := newPair(t, remote.Options{})
	target := srv.target()
	target.Sudo = true
	conn, err := d.Dial(ctx, target)
	if err != nil {
		t.Fatal(err)
	}
	conn.Run(ctx, "echo 'it''s'", remote.RunOptions{})
	want := []string{`sudo -n -- sh -c 'echo '\''it'\'''\''s'\'''`}
	if diff := cmp.Diff(want, srv.commands()); diff != "" {
		t.Errorf("commands (-want +got):\n%s", diff)
	}
}

func TestJumpHost(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	jump := newTestServer(t, key.PublicKey(), commands)
	inner := newTestServer(t, key.PublicKey(), commands)
	d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true})
	defer d.Close()

	jt := jump.target()
	jt.HostKey = jump.hostKeyLine
	target := inner.target()
	target.Jump = &jt
	for range 3 {
		conn, err := d.Dial(ctx, target)
		if err != nil {
			t.Fatal(err)
		}
		if out, err := conn.Output(ctx, "echo hello"); err != nil || out != "hello\n" {
			t.Fatalf("Output through the jump host = %q, %v", out, err)
		}
	}
	if j, i := jump.logins.Load(), inner.logins.Load(); j != 1 || i != 1 {
		t.Errorf("logins: jump %d, inner %d; want 1 each", j, i)
	}
	if got := d.HostKeys()[inner.target().Address()]; got != inner.hostKeyLine {
		t.Errorf("inner host key %q not recorded", got)
	}

	// A wrong pin on the jump host refuses the whole path.
	d2 := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true})
	defer d2.Close()
	bad := jt
	bad.HostKey = inner.hostKeyLine
	target.Jump = &bad
	var mm *remote.HostKeyMismatchError
	if _, err := d2.Dial(ctx, target); !errors.As(err, &mm) || mm.Host != jt.Address() {
		t.Fatalf("got %v, want a mismatch for the jump host %s", err, jt.Address())
	}
}

func TestAuthFromKeyFiles(t *testing.T) {
	ctx := context.Background()
	home := t.TempDir()
	if err := os.Mkdir(filepath.Join(home, ".ssh"), 0o700); err != nil {
		t.Fatal(err)
	}
	key := writeKeyFile(t, filepath.Join(home, ".ssh", "id_ed25519"))
	srv := newTestServer(t, key, commands)

	t.Run("default key files", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{HomeDir: home, NoAgent: true})
		defer d.Close()
		if _, err := d.Dial(ctx, srv.target()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("explicit key file", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{KeyFiles: []string{filepath.Join(home, ".ssh", "id_ed25519")}, NoAgent: true})
		defer d.Close()
		if _, err := d.Dial(ctx, srv.target()); err != nil {
			t.Fatal(err)
		}
	})
	t.Run("missing explicit key file", func(t *testing.T) {
		missing := filepath.Join(home, "nope")
		d := remote.NewDialer(remote.Options{KeyFiles: []string{missing}, NoAgent: true})
		defer d.Close()
		if _, err := d.Dial(ctx, srv.target()); err == nil || !strings.Contains(err.Error(), missing) {
			t.Fatalf("got %v, want an error naming %s", err, missing)
		}
	})
	t.Run("no key at all", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{HomeDir: t.TempDir(), NoAgent: true})
		defer d.Close()
		if _, err := d.Dial(ctx, srv.target()); err == nil || !strings.Contains(err.Error(), "no SSH key") {
			t.Fatalf("got %v, want a no-key error", err)
		}
	})
	t.Run("wrong key", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{newKey(t)}, KeyFiles: []string{}, NoAgent: true})
		defer d.Close()
		if _, err := d.Dial(ctx, srv.target()); err == nil || !strings.Contains(err.Error(), "unable to authenticate") {
			t.Fatalf("got %v, want an authentication error", err)
		}
	})
}

// writeKeyFile writes a new ed25519 key in OpenSSH format and returns its
// public key.
func writeKeyFile(t *testing.T, path string) ssh.PublicKey {
	t.Helper()
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "test")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(block), 0o600); err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(pub)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestAuthFromAgent(t *testing.T) {
	_, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	keyring := agent.NewKeyring()
	if err := keyring.Add(agent.AddedKey{PrivateKey: priv}); err != nil {
		t.Fatal(err)
	}
	sock := filepath.Join(t.TempDir(), "agent.sock")
	l, err := net.Listen("unix", sock)
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go agent.ServeAgent(keyring, c)
		}
	}()
	pub, err := ssh.NewPublicKey(priv.Public())
	if err != nil {
		t.Fatal(err)
	}
	srv := newTestServer(t, pub, commands)

	t.Setenv("SSH_AUTH_SOCK", sock)
	d := remote.NewDialer(remote.Options{KeyFiles: []string{}})
	defer d.Close()
	if _, err := d.Dial(context.Background(), srv.target()); err != nil {
		t.Fatalf("Dial with the key in ssh-agent: %v", err)
	}

	noAgent := remote.NewDialer(remote.Options{KeyFiles: []string{}, NoAgent: true})
	defer noAgent.Close()
	if _, err := noAgent.Dial(context.Background(), srv.target()); err == nil {
		t.Fatal("Dial with NoAgent and no keys succeeded")
	}
}
