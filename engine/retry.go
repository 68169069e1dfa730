package engine

import (
	"context"
	"errors"
	"math/rand/v2"
	"time"

	"github.com/nixferry/ferry/providers"
)

// Provider calls that fail with an error the provider marks Retryable
// (throttling, a transient failure that did nothing) are made again with
// exponential backoff and jitter, within the call's context (a resource's
// timeout, an interrupt). Other errors are returned at once.
const (
	retryAttempts = 6
	retryFirst    = 200 * time.Millisecond
	retryMax      = 10 * time.Second
)

// retry runs call until it succeeds, fails with an error that is not
// Retryable, or retryAttempts are spent; sleep waits between attempts
// (nil: a timer, honouring ctx).
func retry[T any](ctx context.Context, sleep func(context.Context, time.Duration) error, call func() (T, error)) (T, error) {
	if sleep == nil {
		sleep = sleepCtx
	}
	wait := retryFirst
	for attempt := 1; ; attempt++ {
		out, err := call()
		var r providers.Retryable
		if err == nil || attempt == retryAttempts || !errors.As(err, &r) || !r.Retryable() {
			return out, err
		}
		// Full jitter: many resources throttled together spread out.
		if serr := sleep(ctx, time.Duration(rand.Int64N(int64(wait)))+wait/2); serr != nil {
			return out, err
		}
		wait = min(2*wait, retryMax)
	}
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
