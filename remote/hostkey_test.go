package remote_test

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"errors"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/nixferry/ferry/remote"
	"github.com/nixferry/ferry/remote/testhosts"
)

func newECDSAKey(t *testing.T) ssh.PublicKey {
	t.Helper()
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	k, err := ssh.NewPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

func TestParseHostKey(t *testing.T) {
	key := keyLine(newKey(t).PublicKey())
	other := keyLine(newKey(t).PublicKey())
	hashed := knownhosts.HashHostname("db.example.org")
	tests := []struct {
		in      string
		want    string
		wantErr string
	}{
		{in: key, want: key},
		{in: key + " root@web1\n", want: key},
		{in: "  " + key + "\t", want: key},
		{in: "web1.example.org " + key, want: key},
		{in: "[10.0.0.5]:2222 " + key + " a comment", want: key},
		{in: "web1,10.0.0.5 " + key, want: key},
		{in: hashed + " " + key, want: key},
		{in: "# 10.0.0.5:22 SSH-2.0-OpenSSH_9.2\n\n10.0.0.5 " + key + "\n", want: key},
		{in: "", wantErr: "no key given"},
		{in: "# only a comment\n", wantErr: "no key given"},
		{in: "ssh-ed25519", wantErr: "want \"TYPE BASE64 [COMMENT]\""},
		{in: "ssh-ed25519 AAAAnotbase64!", wantErr: "known_hosts line"},
		{in: "web1 ssh-ed25519", wantErr: "known_hosts line"},
		{in: key + "\n" + other, wantErr: "2 keys given (ssh-ed25519, ssh-ed25519): pin one"},
		{in: "@cert-authority *.example.org " + key, wantErr: "a @cert-authority line does not give a host key"},
		{in: "@revoked web1 " + key, wantErr: "a @revoked line"},
	}
	for _, tt := range tests {
		got, err := remote.ParseHostKey(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("ParseHostKey(%q) = %q, %v; want an error containing %q", tt.in, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("ParseHostKey(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
		}
	}
}

func TestKnownHostsLine(t *testing.T) {
	signer := newKey(t)
	key := keyLine(signer.PublicKey())
	tests := []struct {
		host    string
		port    int
		want    string
		wantErr string
	}{
		{host: "web1.example.org", port: 22, want: "web1.example.org " + key},
		{host: "web1.example.org", port: 0, want: "web1.example.org " + key},
		{host: "10.0.0.5", port: 2222, want: "[10.0.0.5]:2222 " + key},
		{host: "::1", port: 22, want: "::1 " + key},
		{host: "::1", port: 2222, want: "[::1]:2222 " + key},
		{host: "[::1]", port: 2222, want: "[::1]:2222 " + key},
		{host: "", port: 22, wantErr: "not a host name"},
		{host: "a b", port: 22, wantErr: "not a host name"},
		{host: "a,b", port: 22, wantErr: "not a host name"},
		{host: "h", port: 70000, wantErr: "out of range"},
	}
	for _, tt := range tests {
		got, err := remote.KnownHostsLine(tt.host, tt.port, key+" comment")
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("KnownHostsLine(%q, %d) = %q, %v; want an error containing %q", tt.host, tt.port, got, err, tt.wantErr)
			}
			continue
		}
		if err != nil || got != tt.want {
			t.Errorf("KnownHostsLine(%q, %d) = %q, %v; want %q", tt.host, tt.port, got, err, tt.want)
			continue
		}
		// The line reads back, and knownhosts accepts the key for the
		// address and refuses another.
		if back, err := remote.ParseHostKey(got); err != nil || back != key {
			t.Errorf("ParseHostKey(%q) = %q, %v", got, back, err)
		}
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, []byte(got+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		check, err := knownhosts.New(file)
		if err != nil {
			t.Fatal(err)
		}
		port := tt.port
		if port == 0 {
			port = 22
		}
		host := strings.Trim(tt.host, "[]")
		addr := net.JoinHostPort(host, strconv.Itoa(port))
		remoteAddr := &net.TCPAddr{IP: net.ParseIP("192.0.2.1"), Port: port}
		if err := check(addr, remoteAddr, signer.PublicKey()); err != nil {
			t.Errorf("knownhosts refuses %s with the line %q: %v", addr, got, err)
		}
		if err := check(addr, remoteAddr, newKey(t).PublicKey()); err == nil {
			t.Errorf("knownhosts accepts another key for %s", addr)
		}
	}
	if _, err := remote.KnownHostsLine("h", 22, "not a key"); err == nil || !strings.Contains(err.Error(), "known_hosts line for h: parse host key") {
		t.Errorf("a bad key: %v", err)
	}
}

func TestHostKeyMismatchErrorFingerprints(t *testing.T) {
	want, got := keyLine(newKey(t).PublicKey()), keyLine(newECDSAKey(t))
	e := &remote.HostKeyMismatchError{Host: "10.0.0.5:22", Want: want + " pinned-comment", Got: got}
	wantFP, _ := remote.Fingerprint(want)
	gotFP, _ := remote.Fingerprint(got)
	w, g := e.Fingerprints()
	if w != wantFP || g != gotFP || !strings.HasPrefix(w, "SHA256:") {
		t.Errorf("Fingerprints() = %q, %q; want %q, %q", w, g, wantFP, gotFP)
	}
	msg := e.Error()
	for _, s := range []string{
		"host key mismatch for 10.0.0.5:22",
		"pinned " + wantFP + " (ssh-ed25519)",
		"presented " + gotFP + " (ecdsa-sha2-nistp256)",
		"check the new fingerprint out of band",
		"ssh-keygen -lf /etc/ssh/ssh_host_ecdsa_key.pub",
		"intercepting",
	} {
		if !strings.Contains(msg, s) {
			t.Errorf("message lacks %q:\n%s", s, msg)
		}
	}
	bad := &remote.HostKeyMismatchError{Host: "h:22", Want: "garbage", Got: got}
	if w, _ := bad.Fingerprints(); w != "garbage" {
		t.Errorf("Fingerprints() of an unparsable pin = %q, want it as it is", w)
	}
}

// TestMismatchIsAlwaysAMismatchError: whatever the pin and the path, a
// host that presents another key is *HostKeyMismatchError, before any
// login.
func TestMismatchIsAlwaysAMismatchError(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	jump := newTestServer(t, key.PublicKey(), commands)
	inner := newTestServer(t, key.PublicKey(), commands)
	opts := remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true}
	ecdsaPin := keyLine(newECDSAKey(t))
	wrongPin := keyLine(newKey(t).PublicKey())

	jt := jump.target()
	jt.HostKey = jump.hostKeyLine
	tests := []struct {
		name     string
		target   func() remote.Target
		wantHost string
		wantPin  string
		wantGot  string
	}{
		{"a pin of a type the host has no key of", func() remote.Target {
			tt := inner.target()
			tt.HostKey = ecdsaPin
			return tt
		}, inner.target().Address(), ecdsaPin, inner.hostKeyLine},
		{"the target behind a jump host", func() remote.Target {
			tt := inner.target()
			tt.HostKey = wrongPin
			tt.Jump = &jt
			return tt
		}, inner.target().Address(), wrongPin, inner.hostKeyLine},
		{"the jump host itself", func() remote.Target {
			bad := jt
			bad.HostKey = wrongPin
			tt := inner.target()
			tt.HostKey = inner.hostKeyLine
			tt.Jump = &bad
			return tt
		}, jt.Address(), wrongPin, jump.hostKeyLine},
		{"the jump host, pinned to a type it has no key of", func() remote.Target {
			bad := jt
			bad.HostKey = ecdsaPin
			tt := inner.target()
			tt.Jump = &bad
			return tt
		}, jt.Address(), ecdsaPin, jump.hostKeyLine},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			innerLogins := inner.logins.Load()
			d := remote.NewDialer(opts)
			defer d.Close()
			// Dial, DialFresh and concurrent Dials sharing one attempt.
			var wg sync.WaitGroup
			errs := make([]error, 6)
			for i := range errs {
				wg.Go(func() {
					if i == 0 {
						_, _, errs[i] = d.DialFresh(ctx, tt.target())
						return
					}
					_, errs[i] = d.Dial(ctx, tt.target())
				})
			}
			wg.Wait()
			for _, err := range errs {
				var mm *remote.HostKeyMismatchError
				if !errors.As(err, &mm) {
					t.Fatalf("got %v, want *HostKeyMismatchError", err)
				}
				want := remote.HostKeyMismatchError{Host: tt.wantHost, Want: tt.wantPin, Got: tt.wantGot}
				if diff := cmp.Diff(want, *mm); diff != "" {
					t.Errorf("(-want +got):\n%s", diff)
				}
			}
			if n := inner.logins.Load() - innerLogins; n != 0 {
				t.Errorf("%d logins to the inner host", n)
			}
		})
	}
}

// TestSharedAttemptJudgedByEachPin: Dials of one host with different pins
// that share a connection attempt each get the answer of their own pin.
func TestSharedAttemptJudgedByEachPin(t *testing.T) {
	ctx := context.Background()
	for range 5 {
		srv, d := newPair(t, remote.Options{})
		right, wrong := srv.target(), srv.target()
		right.HostKey = srv.hostKeyLine
		wrong.HostKey = keyLine(newKey(t).PublicKey())
		var wg sync.WaitGroup
		rightErrs, wrongErrs := make([]error, 4), make([]error, 4)
		for i := range 4 {
			wg.Go(func() { _, wrongErrs[i] = d.Dial(ctx, wrong) })
			wg.Go(func() { _, rightErrs[i] = d.Dial(ctx, right) })
		}
		wg.Wait()
		for i := range 4 {
			if rightErrs[i] != nil {
				t.Errorf("Dial with the right pin: %v", rightErrs[i])
			}
			var mm *remote.HostKeyMismatchError
			if !errors.As(wrongErrs[i], &mm) || mm.Want != wrong.HostKey {
				t.Errorf("Dial with a wrong pin: %v, want a mismatch for that pin", wrongErrs[i])
			}
		}
	}
}

func TestScanHostKey(t *testing.T) {
	ctx := context.Background()
	key := newKey(t)
	jump := newTestServer(t, key.PublicKey(), commands)
	inner := newTestServer(t, key.PublicKey(), commands)

	t.Run("no login needed", func(t *testing.T) {
		// A Dialer whose key the host refuses, and one with no key at all.
		for _, opts := range []remote.Options{
			{Signers: []ssh.Signer{newKey(t)}, KeyFiles: []string{}, NoAgent: true},
			{HomeDir: t.TempDir(), NoAgent: true},
		} {
			d := remote.NewDialer(opts)
			got, err := d.ScanHostKey(ctx, inner.target())
			d.Close()
			if err != nil || got != inner.hostKeyLine {
				t.Errorf("ScanHostKey = %q, %v; want %q", got, err, inner.hostKeyLine)
			}
		}
		if n := inner.logins.Load(); n != 0 {
			t.Errorf("%d logins: a scan must not authenticate", n)
		}
	})

	t.Run("a wrong pin on the target is what a scan is for", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true})
		defer d.Close()
		target := inner.target()
		target.HostKey = keyLine(newECDSAKey(t))
		_, err := d.Dial(ctx, target)
		var mm *remote.HostKeyMismatchError
		if !errors.As(err, &mm) {
			t.Fatalf("Dial: %v, want a mismatch", err)
		}
		got, err := d.ScanHostKey(ctx, target)
		if err != nil || got != inner.hostKeyLine || got != mm.Got {
			t.Errorf("ScanHostKey = %q, %v; want %q, the key Dial saw", got, err, inner.hostKeyLine)
		}
		if _, ok := d.HostKeys()[target.Address()]; ok {
			t.Errorf("a refused or scanned key was recorded as seen")
		}
	})

	t.Run("through a jump host", func(t *testing.T) {
		d := remote.NewDialer(remote.Options{Signers: []ssh.Signer{key}, KeyFiles: []string{}, NoAgent: true})
		defer d.Close()
		jt := jump.target()
		jt.HostKey = jump.hostKeyLine
		target := inner.target()
		target.Jump = &jt
		innerLogins := inner.logins.Load()
		if got, err := d.ScanHostKey(ctx, target); err != nil || got != inner.hostKeyLine {
			t.Errorf("ScanHostKey through the jump host = %q, %v; want %q", got, err, inner.hostKeyLine)
		}
		if n := inner.logins.Load() - innerLogins; n != 0 {
			t.Errorf("%d logins to the scanned host", n)
		}
		bad := jt
		bad.HostKey = inner.hostKeyLine
		target.Jump = &bad
		_, err := d.ScanHostKey(ctx, target)
		var mm *remote.HostKeyMismatchError
		if !errors.As(err, &mm) || mm.Host != jt.Address() {
			t.Errorf("ScanHostKey through a jump host with a wrong pin: %v, want its mismatch", err)
		}
	})

	t.Run("nothing listening", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := l.Addr().(*net.TCPAddr)
		l.Close()
		d := remote.NewDialer(remote.Options{NoAgent: true, KeyFiles: []string{}})
		defer d.Close()
		_, err = d.ScanHostKey(ctx, remote.Target{Host: "127.0.0.1", Port: addr.Port})
		if err == nil || !strings.HasPrefix(err.Error(), "scan host key of root@"+addr.String()) {
			t.Errorf("got %v, want a scan error naming the target", err)
		}
	})
}

// TestHostKeysOnRealHosts: pins through a jump host, a reinstalled host
// (new host key): Dial refuses it, ScanHostKey shows the key to check, and
// KnownHostsLine writes a line OpenSSH accepts.
func TestHostKeysOnRealHosts(t *testing.T) {
	ctx := context.Background()
	fleet, err := testhosts.Start(ctx, testhosts.Options{N: 2})
	if err != nil {
		t.Fatal(err)
	}
	defer fleet.Stop()
	jumpHost, h := fleet.Hosts[0], fleet.Hosts[1]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()

	logins := func(h testhosts.Host) int {
		n, err := h.AcceptedLogins()
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	before := logins(h)
	if got, err := d.ScanHostKey(ctx, h.Target()); err != nil || got != h.HostKey {
		t.Errorf("ScanHostKey = %q, %v; want %q", got, err, h.HostKey)
	}
	if logins(h) != before {
		t.Errorf("the scan logged in")
	}

	jt := jumpHost.Target()
	via := h.Target()
	via.Jump = &jt
	conn, err := d.Dial(ctx, via)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := conn.Output(ctx, "hostname"); err != nil || strings.TrimSpace(out) != h.Name {
		t.Errorf("hostname through the jump host: %q, %v", out, err)
	}
	if got, err := d.ScanHostKey(ctx, via); err != nil || got != h.HostKey {
		t.Errorf("ScanHostKey through the jump host = %q, %v", got, err)
	}
	wrongJump := jt
	wrongJump.HostKey = h.HostKey
	wrongVia := h.Target()
	wrongVia.Jump = &wrongJump
	d2 := remote.NewDialer(fleet.DialerOptions())
	defer d2.Close()
	var mm *remote.HostKeyMismatchError
	if _, err := d2.Dial(ctx, wrongVia); !errors.As(err, &mm) || mm.Host != jumpHost.Address() || mm.Got != jumpHost.HostKey {
		t.Errorf("Dial through a jump host with a wrong pin: %v, want its mismatch", err)
	}

	// h is reinstalled: a new host key.
	old := h.HostKey
	h, err = fleet.Restart(h.Name, testhosts.RestartOptions{NewHostKey: true})
	if err != nil {
		t.Fatal(err)
	}
	pinnedOld := h.Target()
	pinnedOld.HostKey = old
	pinnedOld.Jump = &jt
	before = logins(h)
	d3 := remote.NewDialer(fleet.DialerOptions())
	defer d3.Close()
	_, err = d3.Dial(ctx, pinnedOld)
	if !errors.As(err, &mm) || mm.Host != h.Address() || mm.Want != old || mm.Got != h.HostKey {
		t.Fatalf("Dial of the reinstalled host through the jump host: %v, want a mismatch old -> new", err)
	}
	scanned, err := d3.ScanHostKey(ctx, pinnedOld)
	if err != nil || scanned != mm.Got {
		t.Errorf("ScanHostKey = %q, %v; want the key Dial refused, %q", scanned, err, mm.Got)
	}
	if logins(h) != before {
		t.Errorf("the reinstalled host accepted a login")
	}

	// OpenSSH accepts the known_hosts line for the new key, and refuses
	// the one for the old.
	for _, tc := range []struct {
		key string
		ok  bool
	}{{scanned, true}, {old, false}} {
		line, err := remote.KnownHostsLine(h.Addr, h.Port, tc.key)
		if err != nil {
			t.Fatal(err)
		}
		known := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(known, []byte(line+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command("ssh", "-n", "-F", "none", "-i", fleet.ClientKeyFile, "-o", "IdentitiesOnly=yes",
			"-o", "UserKnownHostsFile="+known, "-o", "GlobalKnownHostsFile=/dev/null", "-o", "StrictHostKeyChecking=yes",
			"-o", "BatchMode=yes", "-p", strconv.Itoa(h.Port), "root@"+h.Addr, "true")
		out, err := cmd.CombinedOutput()
		if (err == nil) != tc.ok {
			t.Errorf("ssh with the known_hosts line %q: %v: %s (want success %v)", line, err, out, tc.ok)
		}
	}
}
