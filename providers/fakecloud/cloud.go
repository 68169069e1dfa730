package fakecloud

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/nixferry/ferry/providers"
)

// Cloud is one configuration of the fake provider (providers.Configured):
// a region's store and the settings its calls follow.
type Cloud struct {
	alias string
	cfg   config
	store *Store
	calls *counter
	hangs *hangs

	mu     sync.Mutex
	faults map[string]*fault // the configuration's faults; counted ones are used up here

	resources map[string]providers.Resource
}

func newCloud(alias string, cfg config, store *Store, calls *counter, hangs *hangs) *Cloud {
	c := &Cloud{alias: alias, cfg: cfg, store: store, calls: calls, hangs: hangs, faults: map[string]*fault{}}
	for call, f := range cfg.faults {
		c.faults[call] = &f
	}
	thing := &thing{base{c: c, k: thingKind()}}
	slow := &slow{base{c: c, k: slowKind()}}
	flaky := &flaky{base{c: c, k: flakyKind()}}
	flaky.k.afterAdd = flaky.secondStep
	host := &host{base{c: c, k: hostKind()}}
	c.resources = map[string]providers.Resource{ThingType: thing, SlowType: slow, FlakyType: flaky, HostType: host}
	return c
}

// Resources returns fake.thing, fake.slow, fake.flaky and fake.host bound
// to this configuration.
func (c *Cloud) Resources() map[string]providers.Resource { return maps.Clone(c.resources) }

// Limit is the configuration's limit argument.
func (c *Cloud) Limit() int { return c.cfg.limit }

// Store is where this configuration's objects live.
func (c *Cloud) Store() *Store { return c.store }

// Stats counts the calls of this configuration's alias so far.
func (c *Cloud) Stats() Stats { return c.calls.snapshot() }

// Region is the configured region.
func (c *Cloud) Region() string { return c.cfg.region }

// call makes one call to the fake API named name: it is counted, takes
// the configured latency, meets the fault injected for it, if any, and
// runs work, which does what the call does.
func (c *Cloud) call(ctx context.Context, name string, work func() error) error {
	c.calls.begin(name)
	defer c.calls.end()
	if err := c.store.logCall(name, false); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	if err := sleep(ctx, c.cfg.latency); err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	f, err := c.takeFault(name)
	if err != nil {
		return err
	}
	hang := func() {
		c.calls.hang(name)
		_ = c.store.logCall(name, true) // best effort: the hang goes on regardless
		c.hangs.start(name)
	}
	if err := f.before(ctx, name, hang); err != nil {
		return err
	}
	if err := work(); err != nil {
		return err
	}
	return f.after(ctx, name, hang)
}

// takeFault returns the fault for call: the store's (files or injected),
// else the configuration's; a counted one is used up by one.
func (c *Cloud) takeFault(call string) (*fault, error) {
	if f, err := c.store.takeFault(call); f != nil || err != nil {
		return f, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.faults[call]
	if f == nil {
		return nil, nil
	}
	taken := *f
	if f.count > 0 {
		if f.count--; f.count == 0 {
			delete(c.faults, call)
		}
	}
	return &taken, nil
}

// sleep waits d, or until ctx ends.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return ctx.Err()
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func sortedKeys[V any](m map[string]V) []string { return slices.Sorted(maps.Keys(m)) }
