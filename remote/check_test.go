package remote_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/remote"
)

func TestRunHostCheck(t *testing.T) {
	fleet, _ := fixture(t)
	h := fleet.Hosts[2]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	conn := dial(t, d, h)
	ctx := context.Background()
	counter := filepath.Join(h.Root, "root", "check-attempts")

	t.Run("system tools first on PATH", func(t *testing.T) {
		c := remote.HostCheck{Cmd: `case $PATH in /run/current-system/sw/bin:/run/wrappers/bin:*) exit 0 ;; *) echo "PATH=$PATH"; exit 1 ;; esac`}
		if err := remote.RunHostCheck(ctx, conn, c); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("passes on a retry", func(t *testing.T) {
		os.Remove(counter)
		c := remote.HostCheck{Cmd: `echo x >> /root/check-attempts; [ "$(wc -l < /root/check-attempts)" -ge 2 ]`, Retries: 3, Interval: 10 * time.Millisecond}
		if err := remote.RunHostCheck(ctx, conn, c); err != nil {
			t.Fatal(err)
		}
		if n := attempts(t, counter); n != 2 {
			t.Errorf("%d attempts, want 2 (stop at the first success)", n)
		}
	})

	t.Run("fails after the retries, with the output", func(t *testing.T) {
		os.Remove(counter)
		c := remote.HostCheck{Cmd: `echo x >> /root/check-attempts; echo "connecting to port 443"; echo "service not ready yet" >&2; exit 3`,
			Retries: 2, Interval: 50 * time.Millisecond}
		start := time.Now()
		err := remote.RunHostCheck(ctx, conn, c)
		var ce *remote.HostCheckError
		if !errors.As(err, &ce) {
			t.Fatalf("got %v, want *HostCheckError", err)
		}
		if n := attempts(t, counter); n != 3 || ce.Attempts != 3 {
			t.Errorf("%d attempts (error says %d), want 3", n, ce.Attempts)
		}
		if time.Since(start) < 100*time.Millisecond {
			t.Errorf("3 attempts in %v: the interval was not waited", time.Since(start))
		}
		msg := err.Error()
		for _, want := range []string{`check "echo x >>`, "failed on " + h.Address() + " after 3 attempts", "exited with status 3", "connecting to port 443"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error does not contain %q:\n%s", want, msg)
			}
		}
		if !strings.HasSuffix(msg, "service not ready yet") {
			t.Errorf("error does not end with the last output line:\n%s", msg)
		}
	})

	t.Run("each attempt is bounded by the timeout", func(t *testing.T) {
		c := remote.HostCheck{Cmd: "echo waiting; sleep 31", Timeout: 300 * time.Millisecond, Retries: 1}
		start := time.Now()
		err := remote.RunHostCheck(ctx, conn, c)
		if took := time.Since(start); took > 3*time.Second {
			t.Errorf("2 attempts of 300ms took %v", took)
		}
		if err == nil || !strings.Contains(err.Error(), "after 2 attempts (last one timed out after 300ms), last output:\n    waiting") {
			t.Errorf("got %v, want a timeout after 2 attempts", err)
		}
		// timeout(1) ended the sleep on the host too.
		if out, _ := conn.Output(ctx, "pgrep -f '[s]leep 31' || true"); strings.TrimSpace(out) != "" {
			t.Errorf("the check's process outlived its timeout: %s", out)
		}
	})

	t.Run("the caller's context bounds it", func(t *testing.T) {
		cctx, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
		defer cancel()
		start := time.Now()
		err := remote.RunHostCheck(cctx, conn, remote.HostCheck{Cmd: "sleep 2", Retries: 5})
		if took := time.Since(start); took > 1500*time.Millisecond {
			t.Errorf("RunHostCheck returned %v after its context ended", took-200*time.Millisecond)
		}
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Errorf("got %v, want the context's deadline", err)
		}
	})
}

func attempts(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	return strings.Count(string(b), "\n")
}

func TestDialFreshMakesANewLogin(t *testing.T) {
	fleet, _ := fixture(t)
	h := fleet.Hosts[0]
	d := remote.NewDialer(fleet.DialerOptions())
	defer d.Close()
	ctx := context.Background()
	pooled := dial(t, d, h)
	logins, err := h.AcceptedLogins()
	if err != nil {
		t.Fatal(err)
	}

	// The pinned key of the pool is used: a target without HostKey works.
	bare := h.Target()
	bare.HostKey = ""
	fresh, closeFresh, err := d.DialFresh(ctx, bare)
	if err != nil {
		t.Fatal(err)
	}
	if out, err := fresh.Output(ctx, "hostname"); err != nil || strings.TrimSpace(out) != h.Name {
		t.Errorf("hostname over the fresh connection: %q, %v", out, err)
	}
	if n, _ := h.AcceptedLogins(); n != logins+1 {
		t.Errorf("sshd accepted %d logins, want %d (one new)", n, logins+1)
	}
	// Not shared with the pool: Dial reuses the pooled one, and closing the
	// fresh one leaves the pool working.
	if _, err := d.Dial(ctx, h.Target()); err != nil {
		t.Fatal(err)
	}
	if err := closeFresh(); err != nil {
		t.Errorf("close: %v", err)
	}
	if err := closeFresh(); err != nil {
		t.Errorf("second close: %v", err)
	}
	if err := fresh.Run(ctx, "true", remote.RunOptions{}); err == nil {
		t.Errorf("the fresh connection still works after its close")
	}
	if err := pooled.Run(ctx, "true", remote.RunOptions{}); err != nil {
		t.Errorf("the pooled connection broke: %v", err)
	}
	if n, _ := h.AcceptedLogins(); n != logins+1 {
		t.Errorf("sshd accepted %d logins, want %d", n, logins+1)
	}

	// A wrong pin is refused on fresh connections too.
	opts := fleet.DialerOptions()
	opts.KnownHostKeys = map[string]string{h.Address(): fleet.Hosts[1].HostKey}
	other := remote.NewDialer(opts)
	defer other.Close()
	_, _, err = other.DialFresh(ctx, bare)
	var mm *remote.HostKeyMismatchError
	if !errors.As(err, &mm) {
		t.Errorf("got %v, want *HostKeyMismatchError", err)
	}
}
