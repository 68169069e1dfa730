package engine

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine/machines"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers"
)

// ApplyOptions tune an apply.
type ApplyOptions struct {
	// Dir is the configuration directory; the plan's input files are
	// checked against it.
	Dir string
	// Deployment, when set, must match the plan's.
	Deployment string
	// Parallelism bounds the resource operations running at once (0:
	// LimitParallelism's default).
	Parallelism int
	LockTimeout time.Duration
	// OpContext, when set, is passed to provider operations instead of a
	// context that ignores ctx's cancellation: cancelling ctx stops
	// scheduling new work while running operations finish; cancelling
	// OpContext aborts them too.
	OpContext context.Context
	// Named limits for machines (limits.go): closure copies and
	// activations running at once (0: LimitCopy's and LimitActivate's
	// defaults), and Nix's build jobs (0: nix.conf's max-jobs).
	MaxConcurrentCopy     int
	MaxConcurrentActivate int
	BuildJobs             int
	// Config is the configuration the plan was made from (its inputs are
	// checked against the plan's digest). Apply takes only the keys'
	// secrets from it, checked against the planned hashes, and the values
	// of sensitive outputs the plan withheld (plan.FillWithheld); it is
	// needed only when the plan uploads keys or withheld an output.
	Config *spec.Config
	// RebootTimeout bounds the wait for a rebooted host (default 5m).
	RebootTimeout time.Duration
	// ReachTimeout bounds the wait for a machine whose target became
	// known in this apply (a host a resource just created) to accept SSH
	// connections; 0 means machines.DefaultReachTimeout.
	ReachTimeout time.Duration
}

// ApplyResult summarises an apply.
type ApplyResult struct {
	Added, Changed, Destroyed int
	Imported                  int
	Deployed, Forgotten       int               // machines
	Failed                    map[string]error  // address -> why
	Skipped                   map[string]string // address -> failed dependency
	Cancelled                 []string
	RolledBack                map[string]string // machine address -> the system it went back to
	// FellBack are the machines whose closures were pushed because they
	// could not substitute them from their cache or substituters, with
	// why (machine(transfer = ...)).
	FellBack         map[string]string
	Outputs          map[string]any
	SensitiveOutputs []string // names of Outputs declared sensitive
	Serial           uint64

	// Deferred are the machines the plan deferred (their systems depend on
	// values this apply produced), with why: the next plan deploys them.
	Deferred map[string]string
}

// Err returns nil when everything in the plan was applied.
func (r *ApplyResult) Err() error {
	if len(r.Failed) == 0 && len(r.Skipped) == 0 && len(r.Cancelled) == 0 {
		return nil
	}
	return &ApplyError{Result: r}
}

// ApplyError reports the addresses that failed, were skipped or were not
// started.
type ApplyError struct{ Result *ApplyResult }

func (e *ApplyError) Error() string {
	r := e.Result
	var b strings.Builder
	failed, stops := 0, []string{}
	for a := range r.Failed {
		if plan.IsGateAddr(a) {
			stops = append(stops, a)
		} else {
			failed++
		}
	}
	sort.Strings(stops)
	fmt.Fprintf(&b, "apply incomplete: %d failed, %d skipped, %d not started", failed, len(r.Skipped), len(r.Cancelled))
	for _, a := range sortedKeys(r.Failed) {
		if !plan.IsGateAddr(a) {
			fmt.Fprintf(&b, "\n  %s: %v", a, r.Failed[a])
		}
	}
	for _, a := range stops {
		fmt.Fprintf(&b, "\n  %v", r.Failed[a])
	}
	for _, a := range sortedKeys(r.Skipped) {
		if plan.IsGateAddr(r.Skipped[a]) {
			fmt.Fprintf(&b, "\n  %s: not touched: the rollout stopped (%s)", a, r.Skipped[a])
			continue
		}
		fmt.Fprintf(&b, "\n  %s: skipped because %s failed", a, r.Skipped[a])
	}
	for _, a := range sortedKeys(r.RolledBack) {
		fmt.Fprintf(&b, "\n  %s: rolled back to %s (recorded in state)", a, r.RolledBack[a])
	}
	if len(r.Cancelled) > 0 {
		fmt.Fprintf(&b, "\n  not started (interrupted): %s", strings.Join(r.Cancelled, ", "))
	}
	b.WriteString("\nwhat finished is recorded in state; run `ferry plan` to see the remaining work")
	return b.String()
}

// Apply executes p: exactly its actions, in the order of its edges.
func (e *Engine) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*ApplyResult, error) {
	if err := e.checkPlan(p, opts); err != nil {
		return nil, err
	}
	s, err := e.Begin(ctx, p.Deployment, "apply", opts.LockTimeout)
	if err != nil {
		return nil, err
	}
	defer s.Close()
	return s.Apply(ctx, p, opts)
}

// checkPlan refuses, before taking the lock, a plan that this apply
// cannot execute as it is.
func (e *Engine) checkPlan(p *plan.Plan, opts ApplyOptions) error {
	if opts.Deployment != "" && opts.Deployment != p.Deployment {
		lineage := ""
		if p.State.Lineage != "" {
			lineage = " (state lineage " + p.State.Lineage + ")"
		}
		return fmt.Errorf("the plan is for deployment %q%s, but this configuration's deployment is %q: apply it where it was made, or plan this one with `ferry -d %s plan --out PLAN`",
			p.Deployment, lineage, opts.Deployment, opts.Deployment)
	}
	if err := e.pipeline().CheckPlan(p); err != nil {
		return err
	}
	for _, r := range p.Resources {
		if _, ok := e.Providers.Schema(r.Type); !ok {
			return fmt.Errorf("plan has %s of type %q, which this ferry does not know", r.Addr, r.Type)
		}
	}
	return nil
}

// Apply executes p under the session's lock: the plan must have been made
// against the state as it is now (the same lineage and serial, no
// interrupted apply since), be signed with the deployment's plan key, and
// its input files must be unchanged.
func (s *Session) Apply(ctx context.Context, p *plan.Plan, opts ApplyOptions) (*ApplyResult, error) {
	e := s.e
	if p.Deployment != s.dep {
		return nil, fmt.Errorf("apply: the plan is for deployment %q, but the session holds %q", p.Deployment, s.dep)
	}
	if err := e.checkPlan(p, opts); err != nil {
		return nil, err
	}
	lock := s.lock
	st, info, err := e.Store.Read(ctx, p.Deployment)
	if err != nil {
		return nil, err
	}
	if p.State.Lineage != "" && st.Lineage != p.State.Lineage {
		now := st.Lineage
		if now == "" {
			now = "none (it has no state)"
		}
		return nil, &plan.StaleError{What: fmt.Sprintf("the plan was made against deployment %q with state lineage %s, but deployment %q in %s has lineage %s: it is another project's plan, or the state was replaced",
			p.Deployment, p.State.Lineage, p.Deployment, e.Store.URL(), now)}
	}
	if err := e.verifyPlan(ctx, p); err != nil {
		return nil, err
	}
	if err := e.checkInputs(ctx, opts.Dir, p); err != nil {
		return nil, err
	}
	// A machine without the plan's derivations (collected, or the plan
	// was made elsewhere) refuses the whole plan before anything runs.
	if err := e.pipeline().CheckDerivations(ctx, p); err != nil {
		return nil, err
	}
	switch {
	case info.JournalSegments > 0:
		return nil, &plan.StaleError{What: "an apply was interrupted after this plan was made"}
	case st.Serial != p.State.Serial:
		return nil, e.stateMoved(ctx, p, st.Serial)
	}
	if err := plan.Unseal(ctx, p, e.Store.Secrets()); err != nil {
		return nil, err
	}
	if err := plan.FillWithheld(p, configOutputs(opts.Config)); err != nil {
		return nil, err
	}
	planKey, _, err := e.Store.ReadPlanKey(ctx, p.Deployment)
	if err != nil {
		return nil, err
	}
	nixKeys, err := e.pipeline().NixKeys(ctx, p, opts.Config, st)
	if err != nil {
		return nil, err
	}
	secrets, err := machines.ResolveSecrets(p, opts.Config, planKey, nixKeys)
	if err != nil {
		return nil, err
	}
	transfers, err := machines.ResolveTransfers(p, opts.Config)
	if err != nil {
		return nil, err
	}
	journal, err := e.Store.OpenJournal(ctx, lock, st)
	if err != nil {
		return nil, err
	}
	opCtx := opts.OpContext
	if opCtx == nil {
		opCtx = context.WithoutCancel(ctx)
	}
	x := &executor{e: e, p: p, st: st, results: map[string]map[string]any{}, opCtx: opCtx,
		secrets: secrets, transfers: transfers, ps: newProviderSet(e.Providers, p.Providers)}
	x.com = newCommitter(journal, st)

	g, _ := PlanGraph(p)
	x.startMachines(opts) // machines.go: the build starts now, in the background
	wr := g.Walk(ctx, LimitParallelism.Or(opts.Parallelism), x.run)
	recorded, comErr := x.com.close()
	x.ms.Close()

	res := &ApplyResult{Failed: wr.Failed, Skipped: map[string]string{}, RolledBack: x.ms.RolledBack(), FellBack: x.ms.FellBack(), Deferred: p.Deferred()}
	for _, a := range wr.Cancelled {
		if !plan.IsGateAddr(a) {
			res.Cancelled = append(res.Cancelled, a)
		}
	}
	if res.Failed == nil {
		res.Failed = map[string]error{}
	}
	for a, cause := range wr.Skipped {
		if plan.IsGateAddr(a) {
			continue // a later gate of a stopped rollout: nothing of its own
		}
		res.Skipped[a] = cause
		e.emit(Event{Kind: EventSkipped, Addr: a, Action: x.action(a), Cause: cause})
	}
	for _, a := range res.Cancelled {
		e.emit(Event{Kind: EventCancelled, Addr: a, Action: x.action(a)})
	}
	for _, a := range wr.Done {
		switch x.action(a) {
		case plan.Deploy:
			res.Deployed++
		case plan.Forget:
			res.Forgotten++
		case plan.Create:
			res.Added++
		case plan.Update:
			res.Changed++
		case plan.Replace:
			res.Added++
			res.Destroyed++
		case plan.Delete:
			res.Destroyed++
		case plan.Import:
			res.Imported++
		}
	}
	if comErr != nil {
		return res, fmt.Errorf("record apply results in state: %w; what was recorded before this error is safe, run `ferry plan` to see the rest", comErr)
	}

	final := recorded.Clone()
	final.Serial = st.Serial + 1
	final.AppliedPlan = p.ID()
	if final.Deployment == "" {
		final.Deployment = p.Deployment
	}
	if res.Err() == nil || p.Options.Destroy {
		final.Outputs, final.SensitiveOutputs = x.outputs(recorded)
	}
	if p.Options.Destroy && len(final.Resources) == 0 {
		final.Outputs, final.SensitiveOutputs = nil, nil
	}
	// A resource left as it is may still have new dependencies (a
	// depends_on, or a reference whose value did not change): record
	// them, since later deletions are ordered by the dependencies in state.
	depsChanged := false
	for _, r := range p.Resources {
		if rec := final.Resources[r.Addr]; r.Action == plan.Noop && rec != nil && !slices.Equal(rec.Deps, r.Deps) {
			c := *rec
			c.Deps = r.Deps
			final.Resources[r.Addr] = &c
			depsChanged = true
		}
	}
	if len(wr.Done) == 0 && !depsChanged && res.Err() == nil && reflect.DeepEqual(final.Outputs, st.Outputs) && slices.Equal(final.SensitiveOutputs, st.SensitiveOutputs) {
		// Nothing changed: keep the serial, so the same reviewed no-op
		// plan stays applicable and history is not padded.
		res.Serial = st.Serial
		res.Outputs, res.SensitiveOutputs = st.Outputs, st.SensitiveOutputs
		return res, nil
	}
	if err := e.Store.Write(context.WithoutCancel(ctx), lock, final); err != nil {
		return res, fmt.Errorf("write state snapshot: %w; completed operations are recorded in the journal and the next `ferry plan` folds them in", err)
	}
	res.Serial = final.Serial
	res.Outputs, res.SensitiveOutputs = final.Outputs, final.SensitiveOutputs
	e.emit(Event{Kind: EventStateSaved, Serial: final.Serial})
	return res, nil
}

// executor walks the plan's graph: resources here, machines and rollout
// gates through the pipeline (machines.go).
type executor struct {
	e     *Engine
	p     *plan.Plan
	st    *state.State // as read at the start
	com   *committer
	opCtx context.Context
	// secrets are the keys the machines upload, read and checked before
	// anything ran.
	secrets machines.Secrets
	// transfers are the fleet caches' signing keys (machines.ResolveTransfers).
	transfers machines.Transfers
	ms        *machines.Run // the machines' part of this apply

	ps *providerSet // the plan's provider configurations, configured on first use

	mu      sync.Mutex
	results map[string]map[string]any // attributes produced by this apply
}

// action is the planned action of a resource or machine address; "" for
// a rollout gate.
func (x *executor) action(addr string) plan.Action {
	if m := x.p.Machine(addr); m != nil {
		return m.Action
	}
	if r := x.p.Resource(addr); r != nil {
		return r.Action
	}
	return ""
}

// run performs one planned action, records it durably, then reports it.
func (x *executor) run(ctx context.Context, addr string, release func()) error {
	if state.IsMachineAddr(addr) {
		return x.runMachineNode(addr, release)
	}
	if plan.IsGateAddr(addr) {
		release()
		return x.runGate(ctx, addr)
	}
	r := x.p.Resource(addr)
	start := time.Now()
	x.e.emit(Event{Kind: EventStart, Addr: addr, Action: r.Action})
	var err error
	prov, err := x.ps.resource(x.opCtx, r.ProviderKey(), r.Type)
	var attrs map[string]any
	if err == nil {
		attrs, err = x.perform(r, prov)
	}
	release() // recording is not work: let the next operation start
	if err != nil {
		x.e.emit(Event{Kind: EventFailed, Addr: addr, Action: r.Action, Duration: time.Since(start), Message: err.Error()})
		return err
	}
	id, _ := attrs["id"].(string)
	x.e.emit(Event{Kind: EventDone, Addr: addr, Action: r.Action, Duration: time.Since(start), ID: id})
	return nil
}

// record is what state keeps of r with attributes attrs.
func (x *executor) record(r *plan.Resource, attrs map[string]any) *state.Resource {
	return &state.Resource{Type: r.Type, Attrs: attrs, Deps: r.Deps, DeclaredAt: r.DeclaredAt,
		Provider: r.Provider, SchemaVersion: r.SchemaVersion}
}

// commit records addr's new record (nil: gone) durably.
func (x *executor) commit(addr string, rec *state.Resource) error {
	return x.com.commit(state.Change{Addr: addr, Resource: rec})
}

// opContext bounds one provider call by the resource's timeout for it.
func (x *executor) opContext(r *plan.Resource, op string) (context.Context, context.CancelFunc) {
	var d string
	if t := r.Timeouts; t != nil {
		d = map[string]string{"create": t.Create, "update": t.Update, "delete": t.Delete}[op]
	}
	if v, err := time.ParseDuration(d); err == nil && v > 0 {
		return context.WithTimeout(x.opCtx, v)
	}
	return context.WithCancel(x.opCtx)
}

// call runs one provider Apply under the resource's timeout; an error
// after a timeout says so.
func (x *executor) call(prov *boundResource, r *plan.Resource, op string, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	ctx, cancel := x.opContext(r, op)
	defer cancel()
	resp, err := prov.Apply(ctx, req)
	if err != nil && errors.Is(ctx.Err(), context.DeadlineExceeded) && x.opCtx.Err() == nil {
		err = fmt.Errorf("%s timed out (timeouts = {%q: ...}): %w", op, op, err)
	}
	return resp, err
}

// perform carries out r's planned action and records each step before the
// next: the action and the prior attributes are the plan's (the refreshed
// "before" the plan recorded), never decided again from state. Apply
// resolves the references the plan could not know, plans the resource
// again with them and checks the result against the reviewed "after"
// (checkFinalPlan) before the provider changes anything. A create is
// journalled with its idempotency token before the call; an object that
// exists after a failed call is recorded as tainted.
func (x *executor) perform(r *plan.Resource, prov *boundResource) (map[string]any, error) {
	if r.DeleteDeposed != nil {
		if _, err := x.call(prov, r, "delete", providers.ApplyRequest{Addr: r.Addr, Action: providers.Delete, Prior: r.DeleteDeposed}); err != nil {
			return nil, fmt.Errorf("delete the old object a create-before-destroy replacement left: %w", err)
		}
		if rec := x.st.Resources[r.Addr]; rec != nil && r.Action != plan.Delete {
			cp := *rec
			cp.Deposed = nil
			if err := x.commit(r.Addr, &cp); err != nil {
				return nil, err
			}
			if r.Action == plan.Noop {
				return cp.Attrs, nil
			}
		}
	}
	prior := r.Before
	if r.Action == plan.Delete {
		if _, err := x.call(prov, r, "delete", providers.ApplyRequest{Addr: r.Addr, Action: providers.Delete, Prior: prior}); err != nil {
			return nil, err
		}
		return nil, x.commit(r.Addr, nil)
	}
	if r.Action == plan.Import {
		ctx, cancel := x.opContext(r, "create")
		resp, err := prov.importObject(ctx, providers.ImportRequest{Addr: r.Addr, ID: r.ImportID})
		cancel()
		if err != nil {
			return nil, fmt.Errorf("import %q: %w", r.ImportID, err)
		}
		prior = resp.State
		if err := x.commit(r.Addr, x.record(r, prior)); err != nil {
			return nil, err
		}
	}
	args, err := x.resolve(r)
	if err != nil {
		return nil, err
	}
	// A replacement plans its new object from nothing; it is checked
	// before the old one is deleted, so a refused plan deletes nothing.
	planPrior := prior
	if r.Action == plan.Replace {
		planPrior = nil
	}
	planned, err := prov.Plan(x.opCtx, providers.PlanRequest{Addr: r.Addr, Prior: planPrior, Config: args, Reviewed: spec.CloneMap(r.After)})
	if err != nil {
		return nil, err
	}
	if err := checkFinalPlan(r, planned); err != nil {
		return nil, err
	}
	if r.Action == plan.Import {
		if reflect.DeepEqual(planned.Planned, prior) {
			x.setResult(r.Addr, prior)
			return prior, nil
		}
		return x.update(r, prov, prior, planned.Planned)
	}
	if r.Action == plan.Replace && prior != nil && !r.CreateBeforeDestroy {
		if _, err := x.call(prov, r, "delete", providers.ApplyRequest{Addr: r.Addr, Action: providers.Delete, Prior: prior}); err != nil {
			return nil, fmt.Errorf("delete before replace: %w", err)
		}
		// The old object is gone: record that before creating the new
		// one, so a crash in between cannot leave a record of it.
		if err := x.commit(r.Addr, nil); err != nil {
			return nil, err
		}
	}
	if r.Action == plan.Update {
		return x.update(r, prov, prior, planned.Planned)
	}
	attrs, err := x.create(r, prov, planned.Planned)
	if err != nil {
		return nil, err
	}
	if r.Action == plan.Replace && prior != nil && r.CreateBeforeDestroy {
		// The new object exists and is recorded with the old one as
		// deposed: a crash now leaves both known, and the next apply
		// deletes the old one.
		rec := x.record(r, attrs)
		rec.Deposed = prior
		if err := x.commit(r.Addr, rec); err != nil {
			return nil, err
		}
		if _, err := x.call(prov, r, "delete", providers.ApplyRequest{Addr: r.Addr, Action: providers.Delete, Prior: prior}); err != nil {
			return nil, fmt.Errorf("delete the replaced object (the new one is created and recorded; the next apply deletes the old one): %w", err)
		}
		if err := x.commit(r.Addr, x.record(r, attrs)); err != nil {
			return nil, err
		}
	}
	return attrs, nil
}

// create journals the create's intent with its token, calls the provider
// and records the outcome: the object, or the part of it that exists
// (tainted) when the call failed.
func (x *executor) create(r *plan.Resource, prov *boundResource, planned map[string]any) (map[string]any, error) {
	// Only a type that can find its objects by token has use for an
	// intent: its objects live outside ferry (a cloud), and the next plan
	// adopts the object of a create whose outcome was not recorded.
	// Other types (null, time, local.file) create again.
	if _, adopts := prov.Resource.(providers.Adopter); adopts {
		intent := &state.Intent{Type: r.Type, Provider: r.Provider, Token: r.Token, Planned: planned, Deps: r.Deps, DeclaredAt: r.DeclaredAt, At: time.Now().UTC()}
		if err := x.com.commit(state.Change{Addr: r.Addr, Intent: intent}); err != nil {
			return nil, fmt.Errorf("record the create before it starts (nothing was created): %w", err)
		}
	}
	resp, err := x.call(prov, r, "create", providers.ApplyRequest{Addr: r.Addr, Action: providers.Create, Planned: planned, Token: r.Token})
	return x.outcome(r, resp, err)
}

// update calls the provider's update and records the outcome.
func (x *executor) update(r *plan.Resource, prov *boundResource, prior, planned map[string]any) (map[string]any, error) {
	resp, err := x.call(prov, r, "update", providers.ApplyRequest{Addr: r.Addr, Action: providers.Update, Prior: prior, Planned: planned})
	return x.outcome(r, resp, err)
}

// outcome records what a create or update left: on success the object;
// on failure, when the provider says part of the object exists, that part
// as tainted (the next plan replaces it), or, for a failed create that
// left nothing, no record (which also settles its intent).
func (x *executor) outcome(r *plan.Resource, resp providers.ApplyResponse, err error) (map[string]any, error) {
	if err != nil {
		if resp.State != nil && !spec.HasUnknown(resp.State) {
			rec := x.record(r, resp.State)
			rec.Tainted = true
			if cerr := x.commit(r.Addr, rec); cerr != nil {
				return nil, fmt.Errorf("%w; and recording what exists failed: %v", err, cerr)
			}
			return nil, fmt.Errorf("%w; what exists of it is recorded as tainted: the next plan replaces it", err)
		}
		// A create that failed and made nothing settles its intent: the
		// record is what it was before the create (none, or, before a
		// create-before-destroy replacement, the old object).
		var settle *state.Resource
		switch {
		case !x.hasIntent(r.Addr):
			return nil, err
		case r.Action == plan.Create:
		case r.Action == plan.Replace && r.CreateBeforeDestroy:
			settle = x.st.Resources[r.Addr]
		case r.Action == plan.Replace:
		default:
			return nil, err // an update: no intent, the record stands
		}
		if cerr := x.commit(r.Addr, settle); cerr != nil {
			return nil, fmt.Errorf("%w; and recording it failed: %v", err, cerr)
		}
		return nil, err
	}
	if spec.HasUnknown(resp.State) {
		return nil, fmt.Errorf("provider fault: %s returned unknown values after apply (a bug in the provider)", r.Type)
	}
	if err := x.commit(r.Addr, x.record(r, resp.State)); err != nil {
		return nil, err
	}
	x.setResult(r.Addr, resp.State)
	return resp.State, nil
}

// hasIntent reports whether a create intent of addr was journalled in
// this apply.
func (x *executor) hasIntent(addr string) bool {
	return x.com.current(func(st *state.State) bool { return st.Intents[addr] != nil })
}

func (x *executor) setResult(addr string, attrs map[string]any) {
	x.mu.Lock()
	x.results[addr] = attrs
	x.mu.Unlock()
}

// resolve fills the references in r's arguments from what this apply
// produced or, for resources the plan does not touch, from state.
func (x *executor) resolve(r *plan.Resource) (map[string]any, error) {
	var missing []string
	args := spec.Resolve(r.Args, func(ref spec.Ref) (any, bool) {
		v, ok := x.lookup(ref)
		if !ok {
			missing = append(missing, ref.String())
		}
		return v, ok
	}).(map[string]any)
	if len(missing) > 0 {
		return nil, fmt.Errorf("references not available at apply: %s", strings.Join(missing, ", "))
	}
	return args, nil
}

func (x *executor) lookup(ref spec.Ref) (any, bool) {
	x.mu.Lock()
	attrs, ok := x.results[ref.Addr]
	x.mu.Unlock()
	if !ok {
		rec := x.st.Resources[ref.Addr]
		if rec == nil {
			return nil, false
		}
		attrs = rec.Attrs
	}
	return spec.Lookup(attrs, ref.Attr)
}

// outputs evaluates the plan's outputs against the recorded state, and
// names the sensitive ones (sorted); an output whose references are not
// available is left out.
func (x *executor) outputs(recorded *state.State) (map[string]any, []string) {
	if len(x.p.Outputs) == 0 {
		return nil, nil
	}
	var sensitive []string
	out := map[string]any{}
	for _, o := range x.p.Outputs {
		ok := true
		v := spec.Resolve(o.Value, func(ref spec.Ref) (any, bool) {
			rec := recorded.Resources[ref.Addr]
			if rec == nil {
				ok = false
				return nil, false
			}
			v, found := spec.Lookup(rec.Attrs, ref.Attr)
			ok = ok && found
			return v, found
		})
		if ok {
			out[o.Name] = v
			if o.Sensitive {
				sensitive = append(sensitive, o.Name)
			}
		}
	}
	slices.Sort(sensitive)
	return out, sensitive
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// configOutputs are cfg's output values by name (nil cfg: none).
func configOutputs(cfg *spec.Config) map[string]any {
	if cfg == nil {
		return nil
	}
	out := make(map[string]any, len(cfg.Outputs))
	for _, o := range cfg.Outputs {
		out[o.Name] = o.Value
	}
	return out
}
