package providertest

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/providers"
)

// promptly bounds how long a call may take to return once its context
// has ended: far above any scheduling delay, far below "ignores it".
const promptly = 10 * time.Second

// shortDeadline is the deadline given to a slow create.
const shortDeadline = 30 * time.Millisecond

// applyWithin calls Apply and waits for it to return until promptly after
// ctx ended; a call that does not return by then fails the test.
func (h *harness) applyWithin(ctx context.Context, step string, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	h.t.Helper()
	type result struct {
		resp providers.ApplyResponse
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := h.r.Apply(ctx, req)
		done <- result{resp, err}
	}()
	select {
	case r := <-done:
		h.noFault(step, r.err)
		return r.resp, r.err
	case <-ctx.Done():
	}
	timer := time.NewTimer(promptly)
	defer timer.Stop()
	select {
	case r := <-done:
		h.noFault(step, r.err)
		return r.resp, r.err
	case <-timer.C:
		h.t.Fatalf("%s: Apply(%s) still running %s after its context ended (%v); return the context's error as soon as it is done", step, req.Action, promptly, context.Cause(ctx))
		return providers.ApplyResponse{}, nil
	}
}

// cancelledCreate: a create whose context is cancelled already starts
// nothing and says why, so that an interrupted apply stops at once.
func cancelledCreate(t *testing.T, c Case) {
	h := newHarness(t, c)
	p := h.plan("create", nil, Config(h.schema, c.Create))
	ctx, cancel := context.WithCancel(h.ctx)
	cancel()
	const step = "create with a cancelled context"
	resp, err := h.applyWithin(ctx, step, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: p.Planned, Token: token()})
	if !errors.Is(err, context.Canceled) {
		t.Errorf("%s: error %v, want one wrapping context.Canceled (check ctx before starting work)", step, err)
	}
	if resp.State != nil {
		h.delete("cleanup", resp.State)
	}
}

// deadlineCreate: a create that would take minutes returns its context's
// error promptly once a short deadline passes, naming the resource: how
// the engine's timeouts and Ctrl-C reach a provider.
func deadlineCreate(t *testing.T, c Case) {
	h := newHarness(t, c)
	p := h.plan("slow create", nil, Config(h.schema, c.Create, c.Slow))
	ctx, cancel := context.WithTimeout(h.ctx, shortDeadline)
	defer cancel()
	const step = "slow create with a short deadline"
	resp, err := h.applyWithin(ctx, step, providers.ApplyRequest{Addr: h.addr, Action: providers.Create, Planned: p.Planned, Token: token()})
	switch {
	case err == nil:
		t.Errorf("%s: the create succeeded within %s; Case.Slow must make it take minutes", step, shortDeadline)
	case !errors.Is(err, context.DeadlineExceeded):
		t.Errorf("%s: error %v, want one wrapping context.DeadlineExceeded", step, err)
	case !strings.Contains(err.Error(), h.addr):
		t.Errorf("%s: error %q does not name %s", step, err, h.addr)
	}
	if resp.State != nil {
		h.delete("cleanup", resp.State)
	}
}
