package engine

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"
)

// TestSlotsWaitWithTheContext: a named limit's slots are waited for with
// the step's context: a full limit gives up when the context ends, naming
// the limit, and a released slot is taken again.
func TestSlotsWaitWithTheContext(t *testing.T) {
	s := newSlots(LimitCopy, 2)
	r1, err := s.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	r2, err := s.Acquire(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := s.Acquire(ctx); err == nil || !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "wait for a slot of --max-concurrent-copy") {
		t.Errorf("a third copy slot of two: %v", err)
	}
	r1()
	r3, err := s.Acquire(t.Context())
	if err != nil {
		t.Fatalf("a released slot: %v", err)
	}
	r2()
	r3()
	// Zero is the default.
	if got := newSlots(LimitActivate, 0).sem.TryAcquire(int64(LimitActivate.Default + 1)); got {
		t.Errorf("the default activation limit holds more than %d", LimitActivate.Default)
	}
	if got := newSlots(LimitActivate, 0).sem.TryAcquire(int64(LimitActivate.Default)); !got {
		t.Errorf("the default activation limit holds fewer than %d", LimitActivate.Default)
	}
}
