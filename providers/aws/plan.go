package aws

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"slices"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// sameFunc compares a configured value with the prior one of attribute
// name; nil compares them as they are.
type sameFunc func(name string, config, prior any) bool

// planAttrs is the plan every type shares: arguments as configured
// (defaults applied); an optional computed argument the configuration
// leaves out keeps its prior value, or is unknown until a create makes
// it; a ForceNew argument that changes (or may, being unknown) replaces
// the object; computed attributes keep their prior value unless the
// object is replaced. Every attribute of the schema is planned.
func planAttrs(s spec.Schema, req providers.PlanRequest, same sameFunc) (providers.PlanResponse, error) {
	args, err := arguments(s, req.Addr, req.Config, false)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	if same == nil {
		same = func(_ string, a, b any) bool { return equal(a, b) }
	}
	planned := args
	var replace []string
	if req.Prior != nil {
		for _, a := range s.Attrs {
			cv, set := args[a.Name]
			if !a.ForceNew || !set {
				continue
			}
			if spec.HasUnknown(cv) || !same(a.Name, cv, req.Prior[a.Name]) {
				replace = append(replace, a.Name)
			}
		}
	}
	slices.Sort(replace)
	for _, a := range s.Attrs {
		if _, set := planned[a.Name]; set {
			continue
		}
		switch {
		case !a.Computed:
			planned[a.Name] = nil
		case req.Prior != nil && replace == nil:
			planned[a.Name] = spec.Clone(req.Prior[a.Name])
		default:
			planned[a.Name] = spec.Unknown{Source: req.Addr + "." + a.Name}
		}
	}
	return providers.PlanResponse{Planned: planned, RequiresReplace: replace}, nil
}

// equal compares two values of the value model.
func equal(a, b any) bool { return spec.Render(a) == spec.Render(b) }

// generatedName is the name of an object whose configuration gives none:
// "ferry-NAME-" and 8 hex digits from the create's token, so that names
// are unique (two deployments, a replacement made before the old object
// is gone) and a create retried with the same token asks for the same
// name again, which AWS refuses as a duplicate: the retry then finds the
// object the first attempt made, instead of making another.
// Without a token (nothing to retry with) the suffix is random.
func generatedName(typ, addr, token string) string {
	var suffix []byte
	if token != "" {
		sum := sha256.Sum256([]byte(token))
		suffix = sum[:4]
	} else {
		suffix = make([]byte, 4)
		_, _ = rand.Read(suffix)
	}
	return fmt.Sprintf("ferry-%s-%s", resourceName(typ, addr), hex.EncodeToString(suffix))
}

// checkCtx returns ctx's error, wrapped with the verb and address, so
// that a cancelled apply starts nothing.
func checkCtx(ctx context.Context, verb, addr string) error {
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s %s: %w", verb, addr, err)
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

// applyFuncs are a type's create, update and delete.
type applyFuncs struct {
	create, update func(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error)
	delete         func(context.Context, providers.ApplyRequest) error
}

// apply calls the function of req's action.
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

// readOne is Read of a BatchReader: ReadMany of one request.
func readOne(ctx context.Context, br providers.BatchReader, req providers.ReadRequest) (providers.ReadResponse, error) {
	resps, err := br.ReadMany(ctx, []providers.ReadRequest{req})
	if err != nil {
		return providers.ReadResponse{}, err
	}
	return resps[0], nil
}

// idsOf returns the object IDs of a batch of reads, in order.
func idsOf(reqs []providers.ReadRequest) ([]string, error) {
	ids := make([]string, len(reqs))
	for i, req := range reqs {
		id, err := idOf("read", req.Addr, req.Prior)
		if err != nil {
			return nil, err
		}
		ids[i] = id
	}
	return ids, nil
}

// batchName names a page of reads in errors.
func batchName(reqs []providers.ReadRequest) string {
	if len(reqs) == 1 {
		return reqs[0].Addr
	}
	return fmt.Sprintf("%s and %d more", reqs[0].Addr, len(reqs)-1)
}
