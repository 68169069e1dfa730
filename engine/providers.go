package engine

import (
	"context"
	"fmt"
	"sync"

	"golang.org/x/sync/semaphore"

	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// providerSet configures the providers a plan or an apply uses: each
// configuration once, when its first resource needs it (a plan that uses
// no AWS resource never asks for AWS credentials), and bounds the calls of
// each configuration by the limit its provider declares, on top of
// --parallelism.
type providerSet struct {
	reg     *providers.Registry
	configs map[string]*plan.Provider // by key

	mu      sync.Mutex
	entries map[string]*providerEntry
}

type providerEntry struct {
	once sync.Once
	c    providers.Configured
	sem  *semaphore.Weighted // nil: no limit of its own
	err  error
}

func newProviderSet(reg *providers.Registry, configs []*plan.Provider) *providerSet {
	s := &providerSet{reg: reg, configs: map[string]*plan.Provider{}, entries: map[string]*providerEntry{}}
	for _, c := range configs {
		s.configs[c.Key] = c
	}
	return s
}

// planProviders resolves the provider configurations of cfg: the declared
// ones, and a default one (the schema's defaults) for every provider used
// without a declaration. It checks that every resource's provider exists.
func planProviders(reg *providers.Registry, cfg *spec.Config) (map[string]*plan.Provider, error) {
	out := map[string]*plan.Provider{}
	for _, pc := range cfg.Providers {
		if _, ok := reg.Provider(pc.Name); !ok {
			return nil, spec.Errorf(pc.Pos, fmt.Sprintf("%s.provider: no provider %q in this ferry", pc.Name, pc.Name))
		}
		out[pc.Key()] = &plan.Provider{Key: pc.Key(), Name: pc.Name, Alias: pc.Alias, Config: pc.Args, DeclaredAt: pc.Pos.String()}
	}
	for _, r := range cfg.Resources {
		key := r.ProviderKey()
		if _, ok := out[key]; ok {
			continue
		}
		name := spec.ProviderName(r.Type)
		if key != name {
			return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s uses provider configuration %s, which is not declared", r.Addr, key))
		}
		out[key] = defaultProvider(reg, name)
	}
	return out, nil
}

// defaultProvider is the configuration of a provider used without a
// NAME.provider(...) declaration: its schema's defaults.
func defaultProvider(reg *providers.Registry, name string) *plan.Provider {
	cfg := map[string]any{}
	if p, ok := reg.Provider(name); ok {
		if s := p.ConfigSchema(); s != nil {
			for _, a := range s.Attrs {
				if a.Default != nil {
					cfg[a.Name] = spec.Clone(a.Default)
				}
			}
		}
	}
	return &plan.Provider{Key: name, Name: name, Config: cfg}
}

// config returns the configuration of key; a key no plan configuration
// names, for a resource only state remembers, is the provider's default
// configuration when key is a provider's name.
func (s *providerSet) config(key string) (*plan.Provider, error) {
	if c, ok := s.configs[key]; ok {
		return c, nil
	}
	if _, ok := s.reg.Provider(key); ok {
		c := defaultProvider(s.reg, key)
		s.configs[key] = c
		return c, nil
	}
	return nil, fmt.Errorf("provider configuration %s is not declared: keep its %s.provider(alias = ...) in the configuration until every resource it manages is destroyed", key, spec.ProviderName(key))
}

// resource returns the implementation of typ under the configuration key,
// configuring the provider if this is its first use.
func (s *providerSet) resource(ctx context.Context, key, typ string) (*boundResource, error) {
	s.mu.Lock()
	cfg, err := s.config(key)
	e := s.entries[key]
	if e == nil {
		e = &providerEntry{}
		s.entries[key] = e
	}
	s.mu.Unlock()
	if err != nil {
		return nil, err
	}
	e.once.Do(func() {
		p, ok := s.reg.Provider(cfg.Name)
		if !ok {
			e.err = fmt.Errorf("provider %s: this ferry has no provider %q", key, cfg.Name)
			return
		}
		e.c, e.err = p.Configure(ctx, providers.ConfigureRequest{Alias: cfg.Alias, Config: spec.CloneMap(cfg.Config)})
		if e.err != nil {
			where := ""
			if cfg.DeclaredAt != "" {
				where = " (declared at " + cfg.DeclaredAt + ")"
			}
			e.err = fmt.Errorf("configure provider %s%s: %w", key, where, e.err)
			return
		}
		if n := e.c.Limit(); n > 0 {
			e.sem = semaphore.NewWeighted(int64(n))
		}
	})
	if e.err != nil {
		return nil, e.err
	}
	r, ok := e.c.Resources()[typ]
	if !ok {
		return nil, fmt.Errorf("provider %s has no resource type %q", key, typ)
	}
	return &boundResource{Resource: r, key: key, sem: e.sem}, nil
}

// boundResource is a resource type under one configuration: every call
// holds a slot of the configuration's limit.
type boundResource struct {
	providers.Resource
	key string
	sem *semaphore.Weighted
}

// slot waits for a slot of the provider's limit; release it when done.
func (b *boundResource) slot(ctx context.Context) (func(), error) {
	if b.sem == nil {
		return func() {}, nil
	}
	if err := b.sem.Acquire(ctx, 1); err != nil {
		return nil, err
	}
	return func() { b.sem.Release(1) }, nil
}

func (b *boundResource) Plan(ctx context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	// Planning is local computation in every provider: no API call, no
	// slot.
	return b.Resource.Plan(ctx, req)
}

func (b *boundResource) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	return retry(ctx, nil, func() (providers.ApplyResponse, error) {
		release, err := b.slot(ctx)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		defer release()
		return b.Resource.Apply(ctx, req)
	})
}

func (b *boundResource) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return retry(ctx, nil, func() (providers.ReadResponse, error) {
		release, err := b.slot(ctx)
		if err != nil {
			return providers.ReadResponse{}, err
		}
		defer release()
		return b.Resource.Read(ctx, req)
	})
}

// readMany reads reqs in as few calls as the provider allows: one
// ReadMany when it is a BatchReader, else one Read each, concurrently.
// Every call holds a slot of reads (--parallelism) and, inside it, one of
// the provider's own limit.
func (b *boundResource) readMany(ctx context.Context, reqs []providers.ReadRequest, reads *slots) ([]providers.ReadResponse, error) {
	if br, ok := b.Resource.(providers.BatchReader); ok {
		release, err := reads.Acquire(ctx)
		if err != nil {
			return nil, err
		}
		defer release()
		out, err := retry(ctx, nil, func() ([]providers.ReadResponse, error) {
			release, err := b.slot(ctx)
			if err != nil {
				return nil, err
			}
			defer release()
			return br.ReadMany(ctx, reqs)
		})
		if err == nil && len(out) != len(reqs) {
			err = fmt.Errorf("provider fault: %s ReadMany returned %d responses for %d requests (a bug in the provider)", b.Schema().Type, len(out), len(reqs))
		}
		return out, err
	}
	out := make([]providers.ReadResponse, len(reqs))
	errs := make([]error, len(reqs))
	var wg sync.WaitGroup
	for i, req := range reqs {
		release, err := reads.Acquire(ctx)
		if err != nil {
			errs[i] = err
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer release()
			out[i], errs[i] = b.Read(ctx, req)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return nil, fmt.Errorf("refresh %s: %w", reqs[i].Addr, err)
		}
	}
	return out, nil
}

// importer returns the resource's Importer, or an error saying the type
// cannot import.
func (b *boundResource) importer() (providers.Importer, error) {
	if im, ok := b.Resource.(providers.Importer); ok {
		return im, nil
	}
	return nil, fmt.Errorf("%s cannot import existing objects", b.Schema().Type)
}

func (b *boundResource) importObject(ctx context.Context, req providers.ImportRequest) (providers.ImportResponse, error) {
	im, err := b.importer()
	if err != nil {
		return providers.ImportResponse{}, err
	}
	release, err := b.slot(ctx)
	if err != nil {
		return providers.ImportResponse{}, err
	}
	defer release()
	resp, err := im.Import(ctx, req)
	if err == nil && resp.State == nil {
		err = fmt.Errorf("provider fault: %s Import of %q returned nothing and no error (a bug in the provider)", b.Schema().Type, req.ID)
	}
	return resp, err
}

// adopt finds the object of an interrupted create; ok false when the type
// cannot adopt.
func (b *boundResource) adopt(ctx context.Context, req providers.AdoptRequest) (resp providers.ReadResponse, ok bool, err error) {
	ad, ok := b.Resource.(providers.Adopter)
	if !ok {
		return providers.ReadResponse{}, false, nil
	}
	release, err := b.slot(ctx)
	if err != nil {
		return providers.ReadResponse{}, true, err
	}
	defer release()
	resp, err = ad.Adopt(ctx, req)
	return resp, true, err
}

// upgrade brings attrs written with schema version v to the current one.
func (b *boundResource) upgrade(ctx context.Context, addr string, v int, attrs map[string]any) (map[string]any, error) {
	cur := b.Schema().Version
	switch {
	case v == cur:
		return attrs, nil
	case v > cur:
		return nil, fmt.Errorf("%s: state was written by a newer %s (schema version %d, this ferry knows %d); upgrade ferry", addr, b.Schema().Type, v, cur)
	}
	up, ok := b.Resource.(providers.StateUpgrader)
	if !ok {
		return nil, fmt.Errorf("provider fault: %s has schema version %d but cannot upgrade state of version %d (a bug in the provider)", b.Schema().Type, cur, v)
	}
	out, err := up.UpgradeState(ctx, providers.UpgradeRequest{Addr: addr, Version: v, State: attrs})
	if err != nil {
		return nil, fmt.Errorf("%s: upgrade state from schema version %d: %w", addr, v, err)
	}
	return out, nil
}
