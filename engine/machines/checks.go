package machines

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/remote"
)

// Health checks: a cmd check runs on the host over the run's connection
// (remote.RunHostCheck), an http check from the deployer. Checks of one
// machine run one after the other, in the configured order; the first one
// that never passes fails the deploy.

// CheckSpecs converts configured checks to their planned form.
func CheckSpecs(cs []*spec.Check) []*plan.Check {
	var out []*plan.Check
	for _, c := range cs {
		out = append(out, &plan.Check{Kind: c.Kind, Cmd: c.Cmd, URL: c.URL, Status: c.Status,
			Timeout: c.Timeout.String(), Retries: c.Retries, Interval: c.Interval.String()})
	}
	return out
}

// RunChecks runs checks against a machine; conn is its connection.
func RunChecks(ctx context.Context, conn *remote.Conn, checks []*plan.Check) error {
	for _, c := range checks {
		timeout, _ := time.ParseDuration(c.Timeout)
		interval, _ := time.ParseDuration(c.Interval)
		var err error
		switch c.Kind {
		case "http":
			err = httpCheck(ctx, c.URL, c.Status, timeout, c.Retries, interval)
		default:
			err = remote.RunHostCheck(ctx, conn, remote.HostCheck{Cmd: c.Cmd, Timeout: timeout, Retries: c.Retries, Interval: interval})
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// httpCheck GETs url until it answers with status, at most retries+1
// times.
func httpCheck(ctx context.Context, url string, status int, timeout time.Duration, retries int, interval time.Duration) error {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	client := &http.Client{Timeout: timeout}
	var last string
	for attempt := 0; attempt <= retries; attempt++ {
		if attempt > 0 {
			select {
			case <-ctx.Done():
				return fmt.Errorf("http check %s: %w", url, ctx.Err())
			case <-time.After(interval):
			}
		}
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
		if err != nil {
			return fmt.Errorf("http check %s: %w", url, err)
		}
		resp, err := client.Do(req)
		if err != nil {
			last = err.Error()
			continue
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		resp.Body.Close()
		if resp.StatusCode == status {
			return nil
		}
		last = fmt.Sprintf("status %d, want %d", resp.StatusCode, status)
		if b := strings.TrimSpace(string(body)); b != "" {
			last += ": " + b
		}
	}
	return fmt.Errorf("http check %s failed after %s: %s", url, spec.Count(retries+1, "attempt"), last)
}
