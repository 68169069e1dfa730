package fakecloud

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"reflect"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// kind is what sets one fake type apart from the others; base does the
// rest the same way for all of them.
type kind struct {
	schema spec.Schema
	prefix string // of IDs: "thing-0123456789abcdef"
	// predict holds computed attributes known when a new object is
	// planned; the others are unknown until apply.
	predict map[string]any
	// downtime, when set, says how an update in place from prior to
	// planned interrupts the object (PlanResponse.Downtime).
	downtime func(prior, planned map[string]any) string
	// computed sets a new object's computed attributes other than id.
	computed func(c *Cloud, o *Object)
	// beforeAdd runs in the create call before the object exists.
	beforeAdd func(ctx context.Context, addr string, args map[string]any) error
	// afterAdd runs after the create call made the object (or found the
	// one its token made), and returns it as it is then.
	afterAdd func(ctx context.Context, addr string, o Object) (Object, error)
	// assign sets computed attributes that depend on the other objects
	// (fake.host's endpoint), in the create call, atomically with the add.
	assign func(c *Cloud, o *Object) error
}

// base implements the contract for one kind in one configuration.
type base struct {
	c *Cloud
	k kind
}

func (b *base) cloud() *Cloud       { return b.c }
func (b *base) typ() string         { return b.k.schema.Type }
func (b *base) Schema() spec.Schema { return b.k.schema }

// callName names one of this type's calls: "fake.thing.create".
func (b *base) callName(op string) string { return b.typ() + "." + op }

func (b *base) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	args, err := arguments(b.k.schema, req.Addr, req.Config, false)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	planned := args
	var replace []string
	if req.Prior != nil {
		for _, a := range b.k.schema.Attrs {
			if a.ForceNew && (spec.HasUnknown(args[a.Name]) || !reflect.DeepEqual(args[a.Name], req.Prior[a.Name])) {
				replace = append(replace, a.Name)
			}
		}
	}
	for _, a := range b.k.schema.Attrs {
		if !a.Computed {
			continue
		}
		switch v, predicted := b.k.predict[a.Name]; {
		case req.Prior != nil && replace == nil:
			planned[a.Name] = spec.Clone(req.Prior[a.Name])
		case predicted:
			planned[a.Name] = v
		default:
			planned[a.Name] = spec.Unknown{Source: req.Addr + "." + a.Name}
		}
	}
	resp := providers.PlanResponse{Planned: planned, RequiresReplace: replace}
	if req.Prior != nil && replace == nil && b.k.downtime != nil {
		resp.Downtime = b.k.downtime(req.Prior, planned)
	}
	return resp, nil
}

func (b *base) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	switch req.Action {
	case providers.Create:
		return b.create(ctx, req)
	case providers.Update:
		return b.update(ctx, req)
	case providers.Delete:
		return providers.ApplyResponse{}, b.delete(ctx, req)
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// newID is the ID of an object made by a create with token: derived from
// the token when tokens are idempotent, so that a retried create finds
// the name taken; random otherwise.
func (b *base) newID(token string) string {
	if token != "" && b.c.cfg.idempotent {
		sum := sha256.Sum256([]byte(b.typ() + "\x00" + token))
		return b.k.prefix + "-" + hex.EncodeToString(sum[:8])
	}
	var r [8]byte
	_, _ = rand.Read(r[:])
	return b.k.prefix + "-" + hex.EncodeToString(r[:])
}

func (b *base) create(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("create %s: %w", req.Addr, err)
	}
	args, err := knownArguments(b.k.schema, "create", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	o := Object{Type: b.typ(), ID: b.newID(req.Token), Token: req.Token, Created: time.Now().UTC(), Attrs: args}
	o.Attrs["id"] = o.ID
	if b.k.computed != nil {
		b.k.computed(b.c, &o)
	}
	var made Object
	err = b.c.call(ctx, b.callName("create"), func() error {
		if b.k.beforeAdd != nil {
			if err := b.k.beforeAdd(ctx, req.Addr, args); err != nil {
				return err
			}
		}
		add := func() error {
			if b.k.assign != nil {
				existing, ok, err := b.c.store.Get(o.Type, o.ID)
				switch {
				case err != nil:
					return err
				case ok && existing.Token != o.Token:
					return fmt.Errorf("%s: ID %s is taken by another object", b.callName("create"), o.ID)
				case ok:
					made = existing // a retried create with the same token: it exists
					return nil
				}
				if err := b.k.assign(b.c, &o); err != nil {
					return err
				}
			}
			got, existed, err := b.c.store.add(o)
			if err == nil && existed && got.Token != o.Token {
				err = fmt.Errorf("%s: ID %s is taken by another object", b.callName("create"), o.ID)
			}
			made = got
			return err
		}
		if b.k.assign != nil {
			return b.c.store.hostLocked(add)
		}
		return add()
	})
	if err != nil && made.ID == "" {
		return providers.ApplyResponse{}, fmt.Errorf("create %s: %w", req.Addr, err)
	}
	if err != nil {
		return providers.ApplyResponse{State: made.Attrs}, fmt.Errorf("create %s: %s %s was made, but the create then failed (the next plan replaces it): %w", req.Addr, b.typ(), made.ID, err)
	}
	if b.k.afterAdd != nil {
		now, err := b.k.afterAdd(ctx, req.Addr, made)
		if err != nil {
			return providers.ApplyResponse{State: now.Attrs}, err
		}
		made = now
	}
	return providers.ApplyResponse{State: made.Attrs}, nil
}

// errGone is the error of a call on an object that no longer exists.
var errGone = errors.New("no longer exists")

func (b *base) update(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	if err := ctx.Err(); err != nil {
		return providers.ApplyResponse{}, fmt.Errorf("update %s: %w", req.Addr, err)
	}
	args, err := knownArguments(b.k.schema, "update", req.Addr, req.Planned)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	id, err := idOf("update", req.Addr, req.Prior)
	if err != nil {
		return providers.ApplyResponse{}, err
	}
	var updated Object
	err = b.c.call(ctx, b.callName("update"), func() error {
		o, ok, err := b.c.store.Get(b.typ(), id)
		if err != nil {
			return err
		}
		if !ok {
			return errGone
		}
		for _, a := range b.k.schema.Attrs {
			if v, isArg := args[a.Name]; isArg && !a.ForceNew {
				o.Attrs[a.Name] = v
			}
		}
		if err := b.c.store.Put(o); err != nil {
			return err
		}
		updated = o
		return nil
	})
	switch {
	case errors.Is(err, errGone):
		return providers.ApplyResponse{}, fmt.Errorf("update %s: %s %s no longer exists (deleted outside ferry?); run ferry plan again to create it anew", req.Addr, b.typ(), id)
	case err != nil && updated.ID != "":
		return providers.ApplyResponse{State: updated.Attrs}, fmt.Errorf("update %s: %s %s was updated, but the call then failed: %w", req.Addr, b.typ(), id, err)
	case err != nil:
		return providers.ApplyResponse{}, fmt.Errorf("update %s: %w", req.Addr, err)
	}
	return providers.ApplyResponse{State: updated.Attrs}, nil
}

func (b *base) delete(ctx context.Context, req providers.ApplyRequest) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("delete %s: %w", req.Addr, err)
	}
	id, err := idOf("delete", req.Addr, req.Prior)
	if err != nil {
		return err
	}
	// Deleting what is gone already succeeds: a crashed apply deletes again.
	err = b.c.call(ctx, b.callName("delete"), func() error { return b.c.store.Remove(b.typ(), id) })
	if err != nil {
		return fmt.Errorf("delete %s: %w", req.Addr, err)
	}
	return nil
}

// idOf returns the object ID recorded in prior state.
func idOf(verb, addr string, prior map[string]any) (string, error) {
	id, _ := prior["id"].(string)
	if id == "" {
		return "", fmt.Errorf("%s %s: the state has no id; remove it with `ferry state rm %s` and import the object again", verb, addr, addr)
	}
	return id, nil
}

// get reads one object by ID (the call Read and Import make); nil when
// there is none.
func (b *base) get(ctx context.Context, id string) (map[string]any, error) {
	var st map[string]any
	err := b.c.call(ctx, b.callName("get"), func() error {
		o, ok, err := b.c.store.Get(b.typ(), id)
		if ok {
			st = o.Attrs
		}
		return err
	})
	return st, err
}

func (b *base) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	id, err := idOf("read", req.Addr, req.Prior)
	if err != nil {
		return providers.ReadResponse{}, err
	}
	st, err := b.get(ctx, id)
	if err != nil {
		return providers.ReadResponse{}, fmt.Errorf("read %s: %w", req.Addr, err)
	}
	return providers.ReadResponse{State: st}, nil
}

// Import reads the object with the ID.
func (b *base) Import(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	if req.ID == "" {
		return providers.ImportResponse{}, fmt.Errorf("import %s: the ID is empty; give the ID of an existing %s", req.Addr, b.typ())
	}
	st, err := b.get(ctx, req.ID)
	if err != nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: %w", req.Addr, err)
	}
	if st == nil {
		return providers.ImportResponse{}, fmt.Errorf("import %s: no %s with ID %q in the fake cloud (region %s); check the ID (they look like %s-0123456789abcdef)", req.Addr, b.typ(), req.ID, b.c.cfg.region, b.k.prefix)
	}
	return providers.ImportResponse{State: st}, nil
}

// Adopt finds the object that a create with the token made: the first one
// when tokens are not idempotent and it made several.
func (b *base) Adopt(ctx context.Context, req providers.AdoptRequest) (providers.ReadResponse, error) {
	if req.Token == "" {
		return providers.ReadResponse{}, nil
	}
	var st map[string]any
	err := b.c.call(ctx, b.callName("find"), func() error {
		objs, err := b.c.store.List(b.typ())
		for _, o := range objs {
			if o.Token == req.Token {
				st = o.Attrs
				break
			}
		}
		return err
	})
	if err != nil {
		return providers.ReadResponse{}, fmt.Errorf("adopt %s: find the %s made with token %s: %w", req.Addr, b.typ(), req.Token, err)
	}
	return providers.ReadResponse{State: st}, nil
}
