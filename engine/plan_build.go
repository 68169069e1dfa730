package engine

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sync/errgroup"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/graph"
	"github.com/nixferry/ferry/providers"
)

// PlanOptions tune a plan. Every option that changes what apply does is
// recorded in the plan (plan.Options); the rest only shape how planning
// runs.
type PlanOptions struct {
	Deployment string   // required
	Destroy    bool     // plan the deletion of everything (in scope)
	Targets    []string // limit to these resources or machines and their dependencies
	Replace    []string // force replacement of these resources, redeploy of these machines
	NoRefresh  bool     // skip reading real objects and hosts for drift
	// On selects machines (NAME, machine.NAME, @TAG, globs; empty: all),
	// Exclude removes some of them (same forms).
	On      []string
	Exclude []string
	// Activate is the switch-to-configuration action: switch (default),
	// boot, test or dry-activate.
	Activate string
	// Reboot is the reboot policy: machines.RebootNever (default),
	// RebootIfNeeded or RebootAlways.
	Reboot string
	// Vars names the variables set on the command line, for the record.
	Vars        []string
	LockTimeout time.Duration
	// Parallelism bounds the provider reads of refresh running at once;
	// MaxConcurrentHostReads the hosts read at once (limits.go; 0: their
	// defaults).
	Parallelism            int
	MaxConcurrentHostReads int
	// EvalMemory, in bytes, bounds the memory of one Nix evaluation pass:
	// a large fleet is then evaluated in several passes, one after the
	// other, each sized from what the earlier ones measured. Zero: one pass.
	EvalMemory int64
	// ShowTrace asks Nix for its evaluation trace on errors (--show-trace).
	ShowTrace bool
}

// options checks the plan-time options and returns them as the plan
// records them, defaults filled in.
func (o PlanOptions) options() (plan.Options, error) {
	out := plan.Options{
		Destroy: o.Destroy, Targets: o.Targets, Replace: o.Replace, On: o.On, Exclude: o.Exclude,
		Activate: o.Activate, Reboot: o.Reboot, Refresh: !o.NoRefresh, Vars: o.Vars,
	}
	var err error
	if out.Activate, out.Reboot, err = machines.CheckPolicy(out.Activate, out.Reboot); err != nil {
		return out, err
	}
	for _, l := range [][]string{out.Targets, out.Replace, out.On, out.Exclude, out.Vars} {
		sort.Strings(l)
	}
	return out, nil
}

// Plan computes the plan that takes the deployment's state to cfg. It holds
// the state lock while it reads, and folds the journal of an interrupted
// apply into a new snapshot first so the plan starts from settled state.
// The plan is signed with the deployment's plan key.
func (e *Engine) Plan(ctx context.Context, cfg *spec.Config, opts PlanOptions) (*plan.Plan, error) {
	s, err := e.Begin(ctx, opts.Deployment, "plan", opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Plan(ctx, cfg, opts)
}

// Session holds a deployment's state lock across several steps: a
// plan-less `ferry apply` plans and applies under one lock, so that no
// other run can move the state in between (and a held lock is waited for,
// with --lock-timeout, before planning rather than failing the apply).
type Session struct {
	e    *Engine
	dep  string
	lock *statestore.Lock
}

// Begin takes the deployment's lock for op, waiting up to timeout.
func (e *Engine) Begin(ctx context.Context, deployment, op string, timeout time.Duration) (*Session, error) {
	if deployment == "" {
		return nil, fmt.Errorf("%s: no deployment name", op)
	}
	lock, err := e.lock(ctx, deployment, op, timeout)
	if err != nil {
		return nil, err
	}
	return &Session{e: e, dep: deployment, lock: lock}, nil
}

// Close releases the lock, also when ctx was cancelled.
func (s *Session) Close() { _ = s.lock.Release(context.Background()) }

// Plan plans cfg against the deployment's state under the session's lock
// and signs the plan.
func (s *Session) Plan(ctx context.Context, cfg *spec.Config, opts PlanOptions) (*plan.Plan, error) {
	if opts.Deployment != s.dep {
		return nil, fmt.Errorf("plan: deployment %q, but the session holds %q", opts.Deployment, s.dep)
	}
	e := s.e
	st, err := e.readSettled(ctx, s.lock, s.dep)
	if err != nil {
		return nil, err
	}
	configs, err := planProviders(e.Providers, cfg)
	if err != nil {
		return nil, err
	}
	ps := newProviderSet(e.Providers, slices.Collect(maps.Values(configs)))
	if st, err = e.adoptIntents(ctx, s.lock, st, ps); err != nil {
		return nil, err
	}
	// The plan key keys the digests of secrets in the plan; a new
	// deployment's is stored only for a plan that exists: a configuration
	// error leaves the store as it was.
	key, ok, err := e.Store.ReadPlanKey(ctx, s.dep)
	if err != nil {
		return nil, err
	}
	if !ok {
		if key, err = statestore.NewPlanKey(); err != nil {
			return nil, err
		}
	}
	p, err := e.buildPlan(ctx, cfg, st, opts, ps, key)
	if err != nil {
		return nil, err
	}
	stored, err := e.Store.StorePlanKey(context.WithoutCancel(ctx), s.lock, s.dep, key)
	if err != nil {
		return nil, err
	}
	if !bytes.Equal(stored, key) {
		return nil, fmt.Errorf("the plan key of deployment %q was created by another run while this one planned (was its lock broken?); run `ferry plan` again", s.dep)
	}
	p.Inputs = planInputs(cfg.Inputs, key)
	if machines.Evaluates(p) && machines.NeedsNixpkgs(cfg) {
		// What the machines were evaluated with is an input too.
		if p.Inputs.Nixpkgs, err = e.pipeline().NixpkgsPin(ctx, cfg.Nixpkgs, cfg.NixpkgsFlake); err != nil {
			return nil, fmt.Errorf("pin nixpkgs: %w", err)
		}
		p.Inputs.Digest = inputsDigest(p.Inputs)
	}
	if err := plan.Seal(ctx, p, e.sensitiveAttrs, e.Store.Secrets()); err != nil {
		return nil, err
	}
	if err := plan.Sign(p, key); err != nil {
		return nil, err
	}
	return p, nil
}

// sensitiveAttrs names a resource type's sensitive attributes, for
// plan.Seal.
func (e *Engine) sensitiveAttrs(typ string) []string {
	s, ok := e.Providers.Schema(typ)
	if !ok {
		return nil
	}
	return s.Sensitive()
}

// readSettled reads the state and, when an interrupted apply left journal
// segments, writes them into a new snapshot under the held lock.
func (e *Engine) readSettled(ctx context.Context, lock *statestore.Lock, dep string) (*state.State, error) {
	st, info, err := e.Store.Read(ctx, dep)
	if err != nil {
		return nil, err
	}
	if info.JournalSegments > 0 {
		st.Serial++
		st.AppliedPlan = "" // the journal's work, not a finished apply
		if err := e.Store.Write(context.WithoutCancel(ctx), lock, st); err != nil {
			return nil, fmt.Errorf("recover interrupted apply of %q: %w", dep, err)
		}
		e.emit(Event{Kind: EventRecovered, Serial: st.Serial,
			Message: fmt.Sprintf("recovered %s of an interrupted apply into state serial %d", spec.Count(info.JournalSegments, "journal segment"), st.Serial)})
	}
	return st, nil
}

// BuildPlan computes a plan from cfg and an already-read state, without
// touching the store; the plan is not signed (apply refuses it). Exported
// for validation, benchmarks and tests.
func (e *Engine) BuildPlan(ctx context.Context, cfg *spec.Config, st *state.State, opts PlanOptions) (*plan.Plan, error) {
	return e.buildPlan(ctx, cfg, st, opts, nil, nil)
}

// buildPlan plans cfg against st; ps holds the provider configurations
// (nil: made from cfg).
func (e *Engine) buildPlan(ctx context.Context, cfg *spec.Config, st *state.State, opts PlanOptions, ps *providerSet, planKey []byte) (*plan.Plan, error) {
	if opts.Deployment == "" {
		return nil, fmt.Errorf("plan: no deployment name")
	}
	po, err := opts.options()
	if err != nil {
		return nil, err
	}
	if ps == nil {
		configs, err := planProviders(e.Providers, cfg)
		if err != nil {
			return nil, err
		}
		ps = newProviderSet(e.Providers, slices.Collect(maps.Values(configs)))
	}
	var nonce [16]byte
	_, _ = rand.Read(nonce[:])
	b := &planBuilder{e: e, cfg: cfg, st: st, opts: opts, po: po, planned: map[string]map[string]any{},
		ps: ps, nonce: hex.EncodeToString(nonce[:]), planKey: planKey}
	return b.build(ctx)
}

type planBuilder struct {
	e    *Engine
	cfg  *spec.Config
	st   *state.State
	opts PlanOptions
	po   plan.Options // opts as the plan records them
	// planKey keys the digests of secrets (nil: BuildPlan, never applied).
	planKey []byte

	replace map[string]bool // --replace addresses (resources and machines)
	ps      *providerSet    // provider configurations, configured on first use
	nonce   string          // random per plan: idempotency tokens are unique to it

	g       *graph.Graph[string] // config dependency graph (resources and machines): dep -> dependent
	deps    map[string][]string  // direct dependencies per configured address
	scope   map[string]bool      // nil: everything
	prior   map[string]map[string]any
	gone    map[string]bool // in state, but Read says the object is gone
	planned map[string]map[string]any
}

func (b *planBuilder) build(ctx context.Context) (*plan.Plan, error) {
	cg, err := BuildConfigGraph(b.cfg)
	if err != nil {
		return nil, err
	}
	b.g, b.deps = cg.Graph, cg.Deps
	if err := b.targetScope(); err != nil {
		return nil, err
	}
	if err := b.refresh(ctx); err != nil {
		return nil, err
	}
	p := &plan.Plan{
		FormatVersion: plan.FormatVersion,
		FerryVersion:  b.e.Version,
		Deployment:    b.opts.Deployment,
		CreatedAt:     b.e.now().UTC().Truncate(time.Second),
		Options:       b.po,
		State:         plan.StateRef{Lineage: b.st.Lineage, Serial: b.st.Serial},
		Inputs:        planInputs(b.cfg.Inputs, nil), // keyed by Session.Plan
	}
	replace := map[string]bool{}
	for _, a := range b.opts.Replace {
		if b.cfg.ResourceByAddr(a) == nil && !b.configuredMachine(a) {
			return nil, b.noSuchAddr("--replace", a, "in the configuration")
		}
		replace[a] = true
	}
	b.replace = replace
	order, err := b.g.TopoOrder()
	if err != nil {
		return nil, err // configGraph already reported cycles
	}
	configured := make(map[string]*spec.Resource, len(b.cfg.Resources))
	for _, r := range b.cfg.Resources {
		configured[r.Addr] = r
	}
	for _, addr := range order {
		r := configured[addr]
		if r == nil || !b.inScope(addr) {
			continue // machines are planned by the pipeline (planMachines)
		}
		var rc *plan.Resource
		if b.opts.Destroy {
			rc, err = b.planDestroy(addr)
		} else {
			rc, err = b.planResource(ctx, r, replace[addr])
		}
		if err != nil {
			return nil, err
		}
		if rc != nil {
			p.Resources = append(p.Resources, rc)
		}
	}
	// Orphans: in state, not in configuration.
	for _, addr := range b.st.Addrs() {
		if configured[addr] != nil || !b.inScope(addr) {
			continue
		}
		rc, err := b.planDestroy(addr)
		if err != nil {
			return nil, err
		}
		if rc != nil {
			rc.Reason = "not in configuration"
			p.Resources = append(p.Resources, rc)
		}
	}
	if err := b.planMachines(ctx, p); err != nil { // machines.go: the pipeline plans them
		return nil, err
	}
	// Destroy plans carry the outputs too: apply re-evaluates them against
	// what is left, so a targeted destroy keeps the ones still valid.
	for _, o := range b.cfg.Outputs {
		p.Outputs = append(p.Outputs, &plan.Output{Name: o.Name, Value: o.Value, Sensitive: o.Sensitive, DeclaredAt: o.Pos.String()})
	}
	if err := b.recordProviders(p); err != nil {
		return nil, err
	}
	p.Normalize()
	p.Edges = executionEdges(p, b.st)
	if !b.opts.Destroy {
		p.Rollout = machines.PlanRollout(b.cfg.Rollout, p)
	}
	return p, nil
}

// targetScope limits the plan to the targets: with their dependencies when
// creating or updating, with their dependents when destroying.
func (b *planBuilder) targetScope() error {
	if len(b.opts.Targets) == 0 {
		return nil
	}
	b.scope = map[string]bool{}
	var inConfig []string
	for _, t := range b.opts.Targets {
		switch {
		case b.cfg.ResourceByAddr(t) != nil:
			inConfig = append(inConfig, t)
		case b.configuredMachine(t):
			// A machine and what it depends on: its resources and the
			// machines it is deployed after.
			for _, a := range b.machineAncestors(t) {
				if state.IsMachineAddr(a) {
					b.scope[a] = true
				} else {
					inConfig = append(inConfig, a)
				}
			}
		case b.st.Resources[t] != nil || b.st.Machines[t] != nil:
			b.scope[t] = true
		default:
			return b.noSuchAddr("--target", t, "in the configuration or the state")
		}
	}
	var set map[string]bool
	if b.opts.Destroy {
		set = stateDependents(b.st, b.g, inConfig)
	} else {
		set = b.g.Ancestors(inConfig...)
	}
	for a := range set {
		b.scope[a] = true
	}
	if b.opts.Destroy {
		for a := range stateDependents(b.st, b.g, keys(b.scope)) {
			b.scope[a] = true
		}
	}
	return nil
}

func (b *planBuilder) inScope(addr string) bool { return b.scope == nil || b.scope[addr] }

// configuredMachine reports whether addr is a machine of the configuration.
func (b *planBuilder) configuredMachine(addr string) bool {
	name, ok := strings.CutPrefix(addr, "machine.")
	return ok && b.cfg.MachineByName(name) != nil
}

// machineAncestors returns the machine at addr and every resource and
// machine it depends on, directly or through others.
func (b *planBuilder) machineAncestors(addr string) []string {
	return keys(b.g.Ancestors(addr))
}

// noSuchAddr is the error for an address on the command line that names
// nothing, with the nearest address there is.
func (b *planBuilder) noSuchAddr(flag, addr, where string) error {
	var all []string
	for _, r := range b.cfg.Resources {
		all = append(all, r.Addr)
	}
	for _, m := range b.cfg.Machines {
		all = append(all, m.Addr)
	}
	all = append(all, b.st.Addrs()...)
	for a := range b.st.Machines {
		all = append(all, a)
	}
	msg := fmt.Sprintf("%s %s: no such resource or machine %s", flag, addr, where)
	if near := spec.Nearest(addr, all); near != "" {
		msg += fmt.Sprintf("; did you mean %s?", near)
	}
	return errors.New(msg)
}

// refresh reads every existing resource in scope to detect drift: the
// resources of one type under one provider configuration in one batch
// (BatchReader: a few calls for thousands of objects), batches
// concurrently, every provider read call holding a slot of
// --parallelism (limits.go). State written with an older schema version
// is upgraded first.
func (b *planBuilder) refresh(ctx context.Context) error {
	b.prior = make(map[string]map[string]any, len(b.st.Resources))
	b.gone = map[string]bool{}
	type batchKey struct{ provider, typ string }
	batches := map[batchKey][]string{}
	var order []batchKey
	for _, a := range b.st.Addrs() {
		if !b.inScope(a) {
			continue
		}
		rec := b.st.Resources[a]
		b.prior[a] = rec.Attrs
		if _, ok := b.e.Providers.Schema(rec.Type); !ok {
			return fmt.Errorf("state has %s of type %q, which this ferry does not know; upgrade ferry or remove it with `ferry state rm %s`", a, rec.Type, a)
		}
		k := batchKey{rec.ProviderKey(), rec.Type}
		if batches[k] == nil {
			order = append(order, k)
		}
		batches[k] = append(batches[k], a)
	}
	var mu sync.Mutex
	reads := newSlots(LimitParallelism, b.opts.Parallelism)
	g, gctx := errgroup.WithContext(ctx)
	for _, k := range order {
		addrs := batches[k]
		g.Go(func() error {
			res, err := b.ps.resource(gctx, k.provider, k.typ)
			if err != nil {
				return fmt.Errorf("refresh %s: %w", addrs[0], err)
			}
			reqs := make([]providers.ReadRequest, len(addrs))
			for i, a := range addrs {
				rec := b.st.Resources[a]
				attrs, err := res.upgrade(gctx, a, rec.SchemaVersion, rec.Attrs)
				if err != nil {
					return err
				}
				reqs[i] = providers.ReadRequest{Addr: a, Prior: attrs}
			}
			if b.opts.NoRefresh {
				mu.Lock()
				for i, a := range addrs {
					b.prior[a] = reqs[i].Prior
				}
				mu.Unlock()
				return nil
			}
			resps, err := res.readMany(gctx, reqs, reads)
			if err != nil {
				return fmt.Errorf("refresh %s: %w", k.typ, err)
			}
			mu.Lock()
			defer mu.Unlock()
			for i, a := range addrs {
				if resps[i].State == nil {
					b.gone[a] = true
					delete(b.prior, a)
				} else {
					b.prior[a] = resps[i].State
				}
			}
			return nil
		})
	}
	return g.Wait()
}

func (b *planBuilder) planResource(ctx context.Context, r *spec.Resource, forceReplace bool) (*plan.Resource, error) {
	if _, ok := b.e.Providers.Schema(r.Type); !ok {
		return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: unknown resource type %q", r.Addr, r.Type))
	}
	prov, err := b.ps.resource(ctx, r.ProviderKey(), r.Type)
	if err != nil {
		return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: %v", r.Addr, err))
	}
	schema := prov.Schema()
	var refErr error
	args := spec.Resolve(r.Args, func(ref spec.Ref) (any, bool) {
		v, ok, err := b.lookup(ref)
		if err != nil && refErr == nil {
			refErr = err
		}
		return v, ok
	}).(map[string]any)
	if refErr != nil {
		return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: %v", r.Addr, refErr))
	}
	prior := b.prior[r.Addr]
	rec := b.st.Resources[r.Addr]
	rc := &plan.Resource{
		Addr: r.Addr, Type: r.Type, Args: r.Args, Deps: b.deps[r.Addr], DeclaredAt: r.Pos.String(),
		Provider: r.Provider, Sensitive: schema.Sensitive(), SchemaVersion: schema.Version,
		CreateBeforeDestroy: r.Lifecycle.CreateBeforeDestroy, Timeouts: planTimeouts(r.Timeouts),
	}
	if rec != nil && rec.Deposed != nil {
		rc.DeleteDeposed = rec.Deposed
	}
	if prior == nil && r.ImportID != "" && !b.gone[r.Addr] {
		// Adopt the existing object: it is read now, shown, and recorded
		// by apply (then updated if the configuration differs).
		resp, err := prov.importObject(ctx, providers.ImportRequest{Addr: r.Addr, ID: r.ImportID})
		if err != nil {
			return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: import %q: %v", r.Addr, r.ImportID, err))
		}
		prior = resp.State
		rc.ImportID = r.ImportID
	}
	// ignore_changes: what the configuration says of these attributes is
	// what the object has, so that changes made outside ferry stay.
	if prior != nil {
		for _, a := range r.Lifecycle.IgnoreChanges {
			if v, ok := prior[a]; ok {
				args[a] = v
			}
		}
	}
	resp, err := prov.Plan(ctx, providers.PlanRequest{Addr: r.Addr, Prior: prior, Config: args})
	if err != nil {
		return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: %v", r.Addr, err))
	}
	tainted := rec != nil && rec.Tainted && prior != nil && rc.ImportID == ""
	switch {
	case rc.ImportID != "":
		rc.Action = plan.Import
		rc.Reason = "import_id " + r.ImportID
		if len(resp.RequiresReplace) > 0 {
			return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: the object imported as %q differs from the configuration in %s, which would replace it; make the configuration match it first", r.Addr, r.ImportID, strings.Join(resp.RequiresReplace, ", ")))
		}
	case prior == nil:
		rc.Action = plan.Create
		if b.gone[r.Addr] {
			rc.Reason = "drift: deleted outside ferry"
		}
	case forceReplace || tainted:
		rc.Action = plan.Replace
		rc.Reason = "requested with --replace"
		if tainted {
			rc.Reason = "tainted: an earlier create or update failed after the object existed, or `ferry taint` marked it"
		}
		resp2, err := prov.Plan(ctx, providers.PlanRequest{Addr: r.Addr, Config: args})
		if err != nil {
			return nil, spec.Errorf(r.Pos, fmt.Sprintf("%s: %v", r.Addr, err))
		}
		resp.Planned = resp2.Planned
	case len(resp.RequiresReplace) > 0:
		rc.Action = plan.Replace
		rc.ReplaceBecause = resp.RequiresReplace
	case reflect.DeepEqual(resp.Planned, prior):
		rc.Action = plan.Noop
	default:
		rc.Action = plan.Update
		rc.Downtime = resp.Downtime
		if rec != nil && !reflect.DeepEqual(rec.Attrs, prior) {
			rc.Reason = "drift: changed outside ferry"
		}
	}
	if rc.Action == plan.Replace && r.Lifecycle.PreventDestroy {
		return nil, b.preventDestroy(r.Addr, r.Pos.String(), "replace")
	}
	if _, adopts := prov.Resource.(providers.Adopter); adopts && (rc.Action == plan.Create || rc.Action == plan.Replace) {
		rc.Token = b.token(r.Addr)
	}
	if rc.Action == plan.Noop {
		// Apply has nothing to do but, maybe, delete a deposed object.
		b.planned[r.Addr] = prior
		rc.Args = nil
		return rc, nil
	}
	b.planned[r.Addr] = resp.Planned
	rc.Before = prior
	rc.After = resp.Planned
	return rc, nil
}

// recordProviders records the provider configurations that apply needs:
// those of every resource it acts on.
func (b *planBuilder) recordProviders(p *plan.Plan) error {
	seen := map[string]bool{}
	for _, r := range p.Resources {
		if r.Action == plan.Noop && r.DeleteDeposed == nil {
			continue
		}
		key := r.ProviderKey()
		if seen[key] {
			continue
		}
		seen[key] = true
		if p, ok := b.e.Providers.Provider(spec.ProviderName(key)); ok && p.ConfigSchema() == nil {
			continue // nothing to record: configured the same everywhere
		}
		b.ps.mu.Lock()
		c, err := b.ps.config(key)
		b.ps.mu.Unlock()
		if err != nil {
			return fmt.Errorf("%s: %w", r.Addr, err)
		}
		p.Providers = append(p.Providers, c)
	}
	return nil
}

// planTimeouts records a resource's timeouts in its plan form.
func planTimeouts(t spec.Timeouts) *plan.Timeouts {
	if t == (spec.Timeouts{}) {
		return nil
	}
	str := func(d time.Duration) string {
		if d == 0 {
			return ""
		}
		return d.String()
	}
	return &plan.Timeouts{Create: str(t.Create), Update: str(t.Update), Delete: str(t.Delete)}
}

// token is the idempotency token of addr's planned create: unique to this
// plan (its nonce) and address, stable for it, at most 64 characters
// (EC2's ClientToken).
func (b *planBuilder) token(addr string) string {
	sum := sha256.Sum256([]byte(b.nonce + "\x00" + addr))
	return "ferry-" + hex.EncodeToString(sum[:20])
}

// preventDestroy is the error of a plan that would destroy a resource
// whose lifecycle forbids it.
func (b *planBuilder) preventDestroy(addr, declared, what string) error {
	return fmt.Errorf("%s has lifecycle(prevent_destroy = True) (declared at %s), but this plan would %s it; change the configuration so it need not, or remove prevent_destroy first if destroying it is really intended", addr, declared, what)
}

func (b *planBuilder) planDestroy(addr string) (*plan.Resource, error) {
	rec := b.st.Resources[addr]
	if rec == nil || b.gone[addr] {
		return nil, nil
	}
	deps := rec.Deps
	if d, configured := b.deps[addr]; configured {
		// Destroying what is configured: the configuration has the latest
		// dependencies, even those no apply has recorded yet.
		deps = d
	}
	if r := b.cfg.ResourceByAddr(addr); r != nil && r.Lifecycle.PreventDestroy {
		return nil, b.preventDestroy(addr, r.Pos.String(), "destroy")
	}
	rc := &plan.Resource{
		Addr: addr, Type: rec.Type, Action: plan.Delete, Provider: rec.Provider,
		Before: b.prior[addr], Deps: deps, DeclaredAt: rec.DeclaredAt, DeleteDeposed: rec.Deposed,
	}
	if s, ok := b.e.Providers.Schema(rec.Type); ok {
		rc.Sensitive = s.Sensitive()
	}
	if r := b.cfg.ResourceByAddr(addr); r != nil {
		rc.Timeouts = planTimeouts(r.Timeouts)
	}
	return rc, nil
}

// lookup resolves a reference against the planned values of resources
// planned so far (dependencies come first in topological order).
func (b *planBuilder) lookup(ref spec.Ref) (any, bool, error) {
	attrs, ok := b.planned[ref.Addr]
	if !ok {
		if !b.inScope(ref.Addr) {
			if rec := b.st.Resources[ref.Addr]; rec != nil {
				attrs = rec.Attrs
			}
		}
		if attrs == nil {
			return nil, false, nil
		}
	}
	v, ok := spec.Lookup(attrs, ref.Attr)
	if !ok {
		top, _, _ := strings.Cut(ref.Attr, ".")
		if _, exists := attrs[top]; exists && top != ref.Attr {
			return nil, false, fmt.Errorf("reference %s: no such attribute", ref)
		}
		return nil, false, nil
	}
	if _, unknown := v.(spec.Unknown); unknown {
		return nil, false, nil
	}
	return v, true, nil
}

func keys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
