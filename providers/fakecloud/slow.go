package fakecloud

import (
	"context"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// SlowType is the fake resource whose create takes time.
const SlowType = "fake.slow"

func slowSchema() spec.Schema {
	return spec.Schema{
		Type: SlowType,
		Doc:  "An object whose create takes duration, or until the create's context ends: for timeouts and concurrency limits.",
		Attrs: []spec.Attr{
			{Name: "duration", Kind: spec.KindDuration, Optional: true, Default: "0s", Doc: "How long a create takes; changes in place (and then matters for nothing)."},
			{Name: "zone", Kind: spec.KindString, Optional: true, Default: "a", ForceNew: true, Doc: "Where the object lives; a change replaces it."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "slow-<16 hex digits>."},
		},
	}
}

func slowKind() kind {
	return kind{
		schema: slowSchema(),
		prefix: "slow",
		// The object comes into being when the wait is over: a create
		// interrupted before that leaves nothing behind.
		beforeAdd: func(ctx context.Context, addr string, args map[string]any) error {
			d, _ := time.ParseDuration(args["duration"].(string)) // checked by arguments
			start := time.Now()
			if err := sleep(ctx, d); err != nil {
				return fmt.Errorf("interrupted after %s of %s: %w", time.Since(start).Round(time.Millisecond), d, err)
			}
			return nil
		},
	}
}

// slow is fake.slow.
type slow struct{ base }
