package aws

import (
	"context"
	"fmt"

	"github.com/nixferry/ferry/providers"
)

// The shapes of Apply and Read that the S3, IAM and EBS types share.

// applyFuncs are one type's create, update and delete.
type applyFuncs struct {
	create, update func(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error)
	delete         func(context.Context, providers.ApplyRequest) error
}

// apply runs the function of req's action.
func (f applyFuncs) apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	switch req.Action {
	case providers.Create:
		return f.create(ctx, req)
	case providers.Update:
		return f.update(ctx, req)
	case providers.Delete:
		return providers.ApplyResponse{}, f.delete(ctx, req)
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// readOne is Read as a batch of one.
func readOne(ctx context.Context, br providers.BatchReader, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, err := br.ReadMany(ctx, []providers.ReadRequest{req})
	if err != nil {
		return providers.ReadResponse{}, err
	}
	return resps[0], nil
}

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
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		id, err := idOf("read", req.Addr, req.Prior)
		if err != nil {
			return nil, err
		}
		ids[i] = id
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
