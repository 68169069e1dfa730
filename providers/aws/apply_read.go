package aws

import (
	"context"

	"github.com/nixferry/ferry/providers"
)

// The shapes of Apply and Read that the S3, IAM and EBS types share.

// readBatch is ReadMany: find looks up the IDs of reqs' prior states at
// once and returns what exists by ID; state makes a request's state of
// what was found. An object not found is gone (a nil State).
func readBatch[T any](ctx context.Context, c *Client, reqs []providers.ReadRequest,
	find func(context.Context, []string) (map[string]T, error),
	state func(found T, prior map[string]any) map[string]any,
) ([]providers.ReadResponse, error) {
	if len(reqs) == 0 {
		return nil, nil
	}
	ids, err := idsOf(reqs)
	if err != nil {
		return nil, err
	}
	found, err := find(ctx, ids)
	if err != nil {
		return nil, c.fail("read", batchName(reqs), err)
	}
	out := make([]providers.ReadResponse, len(reqs))
	for i, req := range reqs {
		if v, ok := found[ids[i]]; ok {
			out[i].State = state(v, req.Prior)
		}
	}
	return out, nil
}
