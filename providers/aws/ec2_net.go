package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// ec2Kind is what the network types (VPCs, subnets, internet gateways,
// elastic IPs) share: how objects of one EC2 type are found by ID and by
// token, and turned into state; from it come their batched reads,
// imports and adoptions. T is what one object's state is made of.
type ec2Kind[T any] struct {
	c      *Client
	noun   string // "VPC", in messages
	prefix string // "vpc-", how its IDs start
	// find returns the objects with the given IDs that exist, by ID, in
	// one call (or a few) per page of IDs.
	find func(ctx context.Context, ids []string) (map[string]T, error)
	// tokenIDs returns the IDs of the objects a create with token made.
	tokenIDs func(ctx context.Context, token string) ([]string, error)
	// state is an object's state; prior (nil when there is none) keeps
	// what EC2 does not return.
	state func(o T, prior map[string]any) map[string]any
}

// one returns the object id, nil when it does not exist.
func (k ec2Kind[T]) one(ctx context.Context, id string) (*T, error) {
	return findOne(ctx, id, k.find)
}

// fresh reads an object just made: EC2 is eventually consistent, so it
// may not show it at once.
func (k ec2Kind[T]) fresh(ctx context.Context, id string) (*T, error) {
	delay := 100 * time.Millisecond
	for attempt := 0; ; attempt++ {
		o, err := k.one(ctx, id)
		if err != nil || o != nil {
			return o, err
		}
		if attempt == 5 {
			return nil, fmt.Errorf("%s %s was made but EC2 does not show it", k.noun, id)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(delay):
			delay *= 2
		}
	}
}

// readMany reads a batch of objects, one find for all of them.
func (k ec2Kind[T]) readMany(ctx context.Context, reqs []providers.ReadRequest) ([]providers.ReadResponse, error) {
	return readBatch(ctx, k.c, reqs, k.find, k.state)
}

func (k ec2Kind[T]) read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, err := k.readMany(ctx, []providers.ReadRequest{req})
	if err != nil {
		return providers.ReadResponse{}, err
	}
	return resps[0], nil
}

// importID reads an object by its ID.
func (k ec2Kind[T]) importID(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if !strings.HasPrefix(req.ID, k.prefix) {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %q is not the ID of a %s; give its %s... ID", req.Addr, req.ID, k.noun, k.prefix)
	}
	o, err := k.one(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, k.c.fail("import", req.Addr, err)
	}
	if o == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no %s %q in %s (region %s)", req.Addr, k.noun, req.ID, k.c.name, k.c.region)
	}
	return providers.ImportResponse{State: k.state(*o, nil)}, nil
}

// adopt finds the object a create with req.Token made, by its token tag
// (the first by ID when moto made several).
func (k ec2Kind[T]) adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	ids, err := k.tokenIDs(ctx, req.Token)
	var o *T
	if err == nil && len(ids) > 0 {
		o, err = k.one(ctx, slices.Min(ids))
	}
	if err != nil {
		return providers.ReadResponse{}, k.c.fail("adopt", req.Addr, err)
	}
	if o == nil {
		return providers.ReadResponse{}, nil
	}
	return providers.ReadResponse{State: k.state(*o, req.Planned)}, nil
}

// createFailed is the answer of a create that failed (err) after it
// made object id: the error, and the partial state that the engine
// records (tainted) instead of losing the object: as EC2 shows it, or,
// when even that fails, what the create asked for, its other computed
// attributes null.
func (k ec2Kind[T]) createFailed(ctx context.Context, addr, id string, args map[string]any, err error, computed ...string) (providers.ApplyResponse, error) {
	err = fmt.Errorf("%w (%s %s was made; the next plan replaces it)", k.c.failNet("create", addr, err), k.noun, id)
	if o, rerr := k.one(context.WithoutCancel(ctx), id); rerr == nil && o != nil {
		return providers.ApplyResponse{State: k.state(*o, args)}, err
	}
	st := spec.CloneMap(args)
	for _, name := range computed {
		if _, ok := st[name]; !ok {
			st[name] = nil
		}
	}
	st["id"] = id
	return providers.ApplyResponse{State: st}, err
}

// updateFailed is the answer of an update whose call failed (err): the
// object as it now is, since some calls may have been made, or that it
// no longer exists.
func (k ec2Kind[T]) updateFailed(ctx context.Context, addr, id string, err error) (providers.ApplyResponse, error) {
	o, rerr := k.one(context.WithoutCancel(ctx), id)
	switch {
	case rerr == nil && o == nil:
		return providers.ApplyResponse{}, fmt.Errorf("update %s: %s %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", addr, k.noun, id)
	case rerr == nil:
		return providers.ApplyResponse{State: k.state(*o, nil)}, k.c.failNet("update", addr, err)
	}
	return providers.ApplyResponse{}, k.c.failNet("update", addr, err)
}

// netArgs reads the arguments of an apply (verb) and its tags, checked.
func netArgs(s spec.Schema, verb string, req providers.ApplyRequest) (map[string]any, map[string]string, error) {
	args, err := knownArguments(s, verb, req.Addr, req.Planned)
	if err != nil {
		return nil, nil, err
	}
	tags, err := tagArgs(req.Addr, args)
	if err != nil {
		return nil, nil, fmt.Errorf("%s %w", verb, err)
	}
	return args, tags, nil
}

// planNet is the plan of a network type: planAttrs, tags checked.
func planNet(s spec.Schema, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := planAttrs(s, req, nil)
	if err != nil {
		return resp, err
	}
	if _, err := tagArgs(req.Addr, resp.Planned); err != nil {
		return providers.PlanResponse{}, err
	}
	return resp, nil
}

// updatedState is the state after an update in place that succeeded:
// the prior one with the planned arguments.
func updatedState(prior, args map[string]any) map[string]any {
	st := spec.CloneMap(prior)
	for k, v := range args {
		st[k] = v
	}
	return st
}

// boolArg returns m[name] as a bool, false when absent.
func boolArg(m map[string]any, name string) bool {
	b, _ := m[name].(bool)
	return b
}

// nullable is s, or nil when s is empty.
func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// mapSlice applies f to every element of s.
func mapSlice[T, U any](s []T, f func(T) U) []U {
	out := make([]U, len(s))
	for i, v := range s {
		out[i] = f(v)
	}
	return out
}

// mapKeys returns m's keys, sorted.
func mapKeys[T any](m map[string]T) []string {
	return slices.Sorted(maps.Keys(m))
}

// failNet is fail, but an error that is a ResourceError already (with
// its hint) stays as it is.
func (c *Client) failNet(verb, addr string, err error) error {
	var re *ResourceError
	if errors.As(err, &re) {
		return err
	}
	return c.fail(verb, addr, err)
}
