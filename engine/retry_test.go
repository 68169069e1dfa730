package engine

import (
	"context"
	"errors"
	"testing"
	"time"
)

type throttled struct{ retry bool }

func (e throttled) Error() string   { return "throttled" }
func (e throttled) Retryable() bool { return e.retry }

func TestRetry(t *testing.T) {
	var waits []time.Duration
	sleep := func(_ context.Context, d time.Duration) error { waits = append(waits, d); return nil }
	calls := 0
	got, err := retry(context.Background(), sleep, func() (int, error) {
		calls++
		if calls < 3 {
			return 0, throttled{retry: true}
		}
		return 42, nil
	})
	if err != nil || got != 42 || calls != 3 || len(waits) != 2 {
		t.Errorf("retry: %d, %v after %d calls and waits %v; want 42 after 3 calls, 2 waits", got, err, calls, waits)
	}
	// Backoff grows: the second wait's range starts above the first's.
	if waits[1] < retryFirst {
		t.Errorf("second wait %v, want at least %v", waits[1], retryFirst)
	}

	calls, waits = 0, nil
	_, err = retry(context.Background(), sleep, func() (int, error) { calls++; return 0, throttled{retry: false} })
	if calls != 1 || len(waits) != 0 || err == nil {
		t.Errorf("an error that is not retryable was retried: %d calls", calls)
	}

	calls, waits = 0, nil
	_, err = retry(context.Background(), sleep, func() (int, error) { calls++; return 0, throttled{retry: true} })
	if calls != retryAttempts || !errors.As(err, new(throttled)) {
		t.Errorf("%d calls, %v; want %d attempts and the last error", calls, err, retryAttempts)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	calls = 0
	_, err = retry(ctx, nil, func() (int, error) { calls++; return 0, throttled{retry: true} })
	if calls != 1 || err == nil {
		t.Errorf("a cancelled context retried: %d calls", calls)
	}
}
