package machines_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
)

// TestHTTPCheck runs http checks from the deployer against a real HTTP
// server on loopback: the wanted status passes, retries wait for a server
// that becomes healthy, and a check that never passes says why.
func TestHTTPCheck(t *testing.T) {
	var calls atomic.Int32
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := calls.Add(1)
		switch r.URL.Path {
		case "/ok":
			w.WriteHeader(http.StatusNoContent)
		case "/warming":
			if n < 3 {
				http.Error(w, "warming up", http.StatusServiceUnavailable)
				return
			}
			w.WriteHeader(http.StatusOK)
		default:
			http.Error(w, "broken backend", http.StatusBadGateway)
		}
	}))
	defer srv.Close()
	check := func(path string, status, retries int) *plan.Check {
		return &plan.Check{Kind: "http", URL: srv.URL + path, Status: status, Timeout: "2s", Retries: retries, Interval: "10ms"}
	}
	ctx := context.Background()
	if err := machines.RunChecks(ctx, nil, []*plan.Check{check("/ok", 204, 0)}); err != nil {
		t.Errorf("/ok: %v", err)
	}
	calls.Store(0)
	if err := machines.RunChecks(ctx, nil, []*plan.Check{check("/warming", 200, 3)}); err != nil || calls.Load() != 3 {
		t.Errorf("/warming: %v after %d calls, want success on the third", err, calls.Load())
	}
	start := time.Now()
	err := machines.RunChecks(ctx, nil, []*plan.Check{check("/broken", 200, 2)})
	if err == nil || !strings.Contains(err.Error(), "failed after 3 attempts: status 502, want 200: broken backend") {
		t.Errorf("/broken: %v", err)
	}
	if time.Since(start) > 2*time.Second {
		t.Errorf("a failing check took %s", time.Since(start))
	}
	// Nothing listens: bounded by the attempts, the error says why.
	srv.Close()
	if err := machines.RunChecks(ctx, nil, []*plan.Check{check("/ok", 200, 1)}); err == nil || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("closed server: %v", err)
	}
}
