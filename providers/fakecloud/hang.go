package fakecloud

import (
	"context"
	"sync"
)

// hangs counts the calls that started hanging on an injected fault, so
// that a test can act while they hang (cancel the apply, kill the
// process) instead of guessing with a sleep.
type hangs struct {
	mu      sync.Mutex
	started map[string]int
	changed chan struct{} // closed and replaced at every start
}

func newHangs() *hangs { return &hangs{started: map[string]int{}, changed: make(chan struct{})} }

func (h *hangs) start(call string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.started[call]++
	close(h.changed)
	h.changed = make(chan struct{})
}

// wait returns once n calls named call have started hanging in all, or
// ctx's error.
func (h *hangs) wait(ctx context.Context, call string, n int) error {
	for {
		h.mu.Lock()
		got, changed := h.started[call], h.changed
		h.mu.Unlock()
		if got >= n {
			return nil
		}
		select {
		case <-changed:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// WaitHanging returns once n calls named call ("fake.thing.create") of this
// Provider's configurations have started hanging on a hang or hang-after
// fault since it was made, or with ctx's error.
func (p *Provider) WaitHanging(ctx context.Context, call string, n int) error {
	return p.hangs.wait(ctx, call, n)
}
