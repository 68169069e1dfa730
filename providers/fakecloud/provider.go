package fakecloud

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Name is the provider's namespace.
const Name = "fake"

// Provider is the fake provider. Its value is the fake cloud account: it
// holds the in-memory objects of each region and the call counts of each
// configuration, so that every Configure of one Provider sees the same
// cloud. Use one Provider per test.
type Provider struct {
	mu      sync.Mutex
	regions map[string]*Store   // in-memory objects, by region
	dirs    map[string]*Store   // folder stores, by absolute path
	stats   map[string]*counter // by alias ("" for the default configuration)
	hangs   *hangs
}

// New returns a fake cloud account with no objects.
func New() *Provider {
	return &Provider{regions: map[string]*Store{}, dirs: map[string]*Store{}, stats: map[string]*counter{}, hangs: newHangs()}
}

// Name is "fake".
func (*Provider) Name() string { return Name }

// ConfigSchema describes fake.provider(...).
func (*Provider) ConfigSchema() *spec.Schema {
	return &spec.Schema{
		Type: Name + ".provider",
		Doc:  "A fake cloud for tests: in memory, or in a folder that outlives the ferry process.",
		Attrs: []spec.Attr{
			{Name: "region", Kind: spec.KindString, Required: true, Doc: "The region; objects of one Provider are kept per region."},
			{Name: "dir", Kind: spec.KindString, Optional: true, Doc: "A folder holding the objects as JSON files, relative to the working directory; in memory when left out."},
			{Name: "limit", Kind: spec.KindNumber, Optional: true, Default: spec.Number(0), Doc: "How many calls may run at once (Configured.Limit); 0 for no limit of its own."},
			{Name: "page_size", Kind: spec.KindNumber, Optional: true, Default: spec.Number(defaultPageSize), Doc: "How many objects one describe call reads."},
			{Name: "idempotent_tokens", Kind: spec.KindBool, Optional: true, Default: true, Doc: "Whether a create with a token already used returns that object (EC2) or makes another (moto)."},
			{Name: "latency", Kind: spec.KindDuration, Optional: true, Default: "0s", Doc: "How long each call takes."},
			{Name: "faults", Kind: spec.KindMap, Optional: true, Default: map[string]any{}, Doc: `Faults by call name, e.g. {"fake.thing.create": "fail 1 throttled"}.`},
			{Name: "hosts", Kind: spec.KindList, Optional: true, Default: []any{}, Doc: `The SSH endpoints fake.host hands out, in order: [{"host": "127.0.0.5", "port": 2222, "host_key": "ssh-ed25519 AAAA..."}].`},
		},
	}
}

// Schemas lists the resource types without a configuration.
func (p *Provider) Schemas() []spec.Schema {
	return []spec.Schema{thingSchema(), slowSchema(), flakySchema(), hostSchema()}
}

// Configure returns the cloud of req's region: the Provider's memory, or
// the folder dir.
func (p *Provider) Configure(_ context.Context, req providers.ConfigureRequest) (providers.Configured, error) {
	cfg, err := parseConfig(req.Config)
	if err != nil {
		return nil, fmt.Errorf("configure %s: %w", configName(req.Alias), err)
	}
	store, err := p.store(cfg)
	if err != nil {
		return nil, fmt.Errorf("configure %s: %w", configName(req.Alias), err)
	}
	p.mu.Lock()
	calls := p.stats[req.Alias]
	if calls == nil {
		calls = newCounter()
		p.stats[req.Alias] = calls
	}
	p.mu.Unlock()
	return newCloud(req.Alias, cfg, store, calls, p.hangs), nil
}

// configName names a configuration in errors: fake.provider or
// fake.provider(alias = "b").
func configName(alias string) string {
	if alias == "" {
		return Name + ".provider"
	}
	return fmt.Sprintf("%s.provider(alias = %q)", Name, alias)
}

func (p *Provider) store(cfg config) (*Store, error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if cfg.dir == "" {
		s := p.regions[cfg.region]
		if s == nil {
			s = newMemStore()
			p.regions[cfg.region] = s
		}
		return s, nil
	}
	abs, err := filepath.Abs(cfg.dir)
	if err != nil {
		return nil, err
	}
	if s := p.dirs[abs]; s != nil {
		return s, nil
	}
	s, err := OpenDir(abs)
	if err != nil {
		return nil, err
	}
	p.dirs[abs] = s
	return s, nil
}

// Memory returns the in-memory store of region, so that a test can look at
// objects and change them behind ferry's back.
func (p *Provider) Memory(region string) *Store {
	s, _ := p.store(config{region: region})
	return s
}

// Stats returns the calls made by the configurations with alias ("" for
// the default one) of this Provider so far.
func (p *Provider) Stats(alias string) Stats {
	p.mu.Lock()
	c := p.stats[alias]
	p.mu.Unlock()
	if c == nil {
		return Stats{Calls: map[string]int{}}
	}
	return c.snapshot()
}
