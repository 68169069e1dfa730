package engine

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// State surgery (`ferry state rm`, `mv`, `push`, `ferry delete`): pure
// functions on a *state.State that return a changed copy, and one locked
// read-modify-write (ModifyState) that writes their result as the next
// snapshot. Surgery never touches a real object or host: it changes what
// ferry knows, nothing else. Resources and machines are handled alike;
// a resource stays a resource and a machine a machine.

// ModifyState applies fn to the deployment's current state under the
// state lock (op names the holder, lockTimeout bounds the wait) and writes
// fn's result as the next snapshot, serial+1, compare-and-swap. The state
// fn receives includes the journal of an interrupted apply, so the write
// folds it in, as a plan would. fn must not change its argument in place
// (the functions of this file return copies). When fn returns an error,
// nothing is written and the error is returned as is; when it returns a
// nil state, nothing is written and ModifyState returns nil, nil.
func (e *Engine) ModifyState(ctx context.Context, deployment, op string, lockTimeout time.Duration, fn func(*state.State) (*state.State, error)) (*state.State, error) {
	return e.changeState(ctx, deployment, op, lockTimeout, false, func(st *state.State, r stateRead) (*state.State, error) {
		return fn(st)
	})
}

// stateRead is what changeState found besides the state.
type stateRead struct {
	info statestore.ReadInfo
	// damaged says why the latest snapshot could not be read ("" when it
	// was): then the state is empty with that serial and no lineage.
	damaged string
}

// changeState is ModifyState; with repair, a damaged latest snapshot is no
// obstacle: fn gets an empty state with that serial and no lineage, and
// its result is written on top of it (how `ferry state push` restores an
// earlier snapshot). Write still checks the lineage when the damaged
// snapshot's header is readable.
func (e *Engine) changeState(ctx context.Context, dep, op string, lockTimeout time.Duration, repair bool, fn func(*state.State, stateRead) (*state.State, error)) (*state.State, error) {
	if dep == "" {
		return nil, fmt.Errorf("%s: no deployment name", op)
	}
	lock, err := e.lock(ctx, dep, op, lockTimeout)
	if err != nil {
		return nil, err
	}
	defer lock.Release(context.WithoutCancel(ctx))
	var r stateRead
	st, info, err := e.Store.Read(ctx, dep)
	r.info = info
	if err != nil && repair {
		if serial, why, ok := damagedLatest(ctx, e.Store, dep); ok {
			r = stateRead{damaged: why}
			st, err = &state.State{FormatVersion: state.FormatVersion, Deployment: dep, Serial: serial, Resources: map[string]*state.Resource{}}, nil
		}
	}
	if err != nil {
		return nil, err
	}
	if st.Deployment == "" {
		st.Deployment = dep
	}
	out, err := fn(st, r)
	if err != nil || out == nil {
		return nil, err
	}
	if out == st {
		out = st.Clone()
	}
	out.Serial = st.Serial + 1
	out.Deployment = dep
	out.AppliedPlan = "" // no plan's apply wrote this one
	if out.Lineage == "" {
		out.Lineage = st.Lineage
	}
	if err := e.Store.Write(context.WithoutCancel(ctx), lock, out); err != nil {
		return nil, err
	}
	if info.JournalSegments > 0 && !repair { // a push replaces, and so drops, the journal's work
		e.emit(Event{Kind: EventRecovered, Serial: out.Serial,
			Message: fmt.Sprintf("folded %s of an interrupted apply of %q into state serial %d", spec.Count(info.JournalSegments, "journal segment"), dep, out.Serial)})
	}
	e.emit(Event{Kind: EventStateSaved, Serial: out.Serial})
	return out, nil
}

// damagedLatest returns the serial of the deployment's latest snapshot and
// why it cannot be read, or ok false when it can (then the problem is
// elsewhere and no repair should paper over it).
func damagedLatest(ctx context.Context, store *statestore.Store, dep string) (serial uint64, why string, ok bool) {
	hist, err := store.History(ctx, dep)
	if err != nil || len(hist) == 0 {
		return 0, "", false
	}
	last := hist[len(hist)-1]
	if last.Problem != "" {
		return last.Serial, last.Problem, true
	}
	if _, err := store.ReadSerial(ctx, dep, last.Serial); err != nil {
		// An encrypted snapshot this run has no key for is not damaged:
		// repairing would write over a good snapshot.
		if r := sealed.ReasonOf(err); r != 0 && r != sealed.Damaged {
			return 0, "", false
		}
		return last.Serial, err.Error(), true
	}
	return 0, "", false
}

// StateAddrs lists every address in st: the resources, then the machines,
// each sorted.
func StateAddrs(st *state.State) []string {
	out := st.Addrs()
	ms := make([]string, 0, len(st.Machines))
	for a := range st.Machines {
		ms = append(ms, a)
	}
	sort.Strings(ms)
	return append(out, ms...)
}

// RecordedAddrs lists the addresses of what st records without managing
// (state.Recorded), sorted.
func RecordedAddrs(st *state.State) []string {
	out := make([]string, 0, len(st.Recorded))
	for a := range st.Recorded {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}

// LookupAddr finds the record at addr: a resource, or a machine for
// "machine.NAME". An address not in st is an error that names the
// deployment and the nearest addresses.
func LookupAddr(st *state.State, addr string) (*state.Resource, *state.Machine, error) {
	if state.IsMachineAddr(addr) {
		if m := st.Machines[addr]; m != nil {
			return nil, m, nil
		}
	} else if r := st.Resources[addr]; r != nil {
		return r, nil, nil
	}
	return nil, nil, notInState(st, addr)
}

// notInState says addr is not in st, with the addresses it may have meant.
func notInState(st *state.State, addr string) error {
	msg := fmt.Sprintf("%s is not in the state of deployment %q", addr, st.Deployment)
	if near := nearAddrs(addr, append(StateAddrs(st), RecordedAddrs(st)...)); len(near) > 0 {
		msg += " (did you mean " + orList(near) + "?)"
	}
	return errors.New(msg + "; see `ferry state list`")
}

// nearAddrs returns up to three addresses of candidates close to addr,
// nearest first: a machine named without "machine.", or likely typos of
// either the type or the NAME (the last segment), never of both. The
// distance allowed grows with the length of the part that differs, not of
// the whole address: "local.file.zzz" is no typo of "local.file.a", nor
// "local.file.a" of "local.file.b".
func nearAddrs(addr string, candidates []string) []string {
	if !state.IsMachineAddr(addr) && slices.Contains(candidates, spec.MachineAddr(addr)) {
		return []string{spec.MachineAddr(addr)}
	}
	split := func(a string) (string, string) {
		i := strings.LastIndex(a, ".")
		return a[:max(i, 0)], a[i+1:]
	}
	limit := func(part string) int {
		if len(part) < 2 {
			return 0 // any one-letter name is one edit from any other
		}
		return max(1, len(part)/3)
	}
	typ, name := split(addr)
	type near struct {
		addr string
		dist int
	}
	var ns []near
	for _, c := range candidates {
		ctyp, cname := split(c)
		d, lim := -1, 0
		switch {
		case ctyp == typ:
			d, lim = spec.EditDistance(name, cname), limit(name)
		case cname == name:
			d, lim = spec.EditDistance(typ, ctyp), limit(typ)
		}
		if d > 0 && d <= lim {
			ns = append(ns, near{c, d})
		}
	}
	sort.SliceStable(ns, func(i, j int) bool { return ns[i].dist < ns[j].dist })
	var out []string
	for _, n := range ns[:min(len(ns), 3)] {
		out = append(out, n.addr)
	}
	return out
}

// orList renders "a", "a or b", "a, b or c".
func orList(xs []string) string {
	if len(xs) == 1 {
		return xs[0]
	}
	return strings.Join(xs[:len(xs)-1], ", ") + " or " + xs[len(xs)-1]
}

// RemoveAddrs returns a copy of st without the resources, machines and
// recorded objects at addrs: ferry forgets them and leaves the real objects and hosts as they
// are. Every address must be in st, else nothing is removed and the error
// names each missing one. Dependencies other records have on a removed
// address stay as recorded: they say what was created in which order.
func RemoveAddrs(st *state.State, addrs []string) (*state.State, error) {
	if len(addrs) == 0 {
		return nil, errors.New("no address to remove; see `ferry state list`")
	}
	var errs []error
	for _, a := range addrs {
		if st.Recorded[a] != nil {
			continue
		}
		if _, _, err := LookupAddr(st, a); err != nil {
			errs = append(errs, err)
		}
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	out := st.Clone()
	for _, a := range addrs {
		if out.Recorded[a] != nil {
			delete(out.Recorded, a)
		} else if state.IsMachineAddr(a) {
			delete(out.Machines, a)
		} else {
			delete(out.Resources, a)
		}
	}
	return out, nil
}

// MoveAddr returns a copy of st with the record at from renamed to to, so
// that the next plan sees it under its new address instead of destroying
// and creating it (or forgetting a machine and deploying it afresh). A
// resource keeps its type: to must be TYPE.NAME of the same type. A
// machine keeps its pinned host key, generation, status and keys. Other
// resources' recorded dependencies on from follow. Moving onto an
// address already in st, or between a resource and a machine, is refused.
func MoveAddr(st *state.State, from, to string) (*state.State, error) {
	r, m, err := LookupAddr(st, from)
	if err != nil {
		return nil, err
	}
	if from == to {
		return nil, fmt.Errorf("%s is already at %s; nothing to move", from, to)
	}
	fromMachine, toMachine := state.IsMachineAddr(from), state.IsMachineAddr(to)
	switch {
	case fromMachine && !toMachine:
		return nil, fmt.Errorf("cannot move machine %s to %s, which is not a machine address: a machine moves to machine.NAME", from, to)
	case !fromMachine && toMachine:
		return nil, fmt.Errorf("cannot move resource %s to machine address %s: a resource moves to %s.NAME", from, to, r.Type)
	}
	if _, _, err := LookupAddr(st, to); err == nil {
		return nil, fmt.Errorf("cannot move %s to %s: %s is already in the state of deployment %q; forget it first with `ferry state rm %s` if it is stale", from, to, to, st.Deployment, to)
	}
	out := st.Clone()
	if fromMachine {
		if name := strings.TrimPrefix(to, "machine."); !validName(name) {
			return nil, fmt.Errorf("cannot move %s to %s: %q is not a machine name (letters, digits, \"_\" and \"-\")", from, to, name)
		}
		delete(out.Machines, from)
		out.Machines[to] = m
	} else {
		name, ok := strings.CutPrefix(to, r.Type+".")
		if !ok {
			return nil, fmt.Errorf("cannot move %s to %s: %s is a %s, and a resource keeps its type; move it to %s.NAME", from, to, from, r.Type, r.Type)
		}
		if !validName(name) {
			return nil, fmt.Errorf("cannot move %s to %s: %q is not a resource name (letters, digits, \"_\" and \"-\")", from, to, name)
		}
		delete(out.Resources, from)
		out.Resources[to] = r
	}
	for addr, other := range out.Resources {
		if !slices.Contains(other.Deps, from) {
			continue
		}
		cp := *other
		cp.Deps = make([]string, 0, len(other.Deps))
		for _, d := range other.Deps {
			if d == from {
				d = to
			}
			if !slices.Contains(cp.Deps, d) {
				cp.Deps = append(cp.Deps, d)
			}
		}
		sort.Strings(cp.Deps)
		out.Resources[addr] = &cp
	}
	return out, nil
}

// validName reports whether s may be the NAME of an address: letters,
// digits, "_" and "-", as the configuration language allows.
func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '_' || c == '-') {
			return false
		}
	}
	return true
}

// PushOptions tune PushState.
type PushOptions struct {
	// Source names the pushed snapshot in messages (its file name).
	Source string
	// Force pushes despite the refusals, and PushResult.Overridden says
	// which it overrode.
	Force       bool
	LockTimeout time.Duration
}

// PushResult is what PushState wrote.
type PushResult struct {
	State *state.State // as written
	// Overridden lists what Force pushed over (each PushProblem.What);
	// Notes what is worth knowing without being refused (an older
	// serial, a damaged snapshot written over).
	Overridden []string
	Notes      []string
}

// PushProblem is one reason to refuse a push.
type PushProblem struct {
	What string // what is wrong, naming the objects
	Next string // what to run instead; "" when there is nothing better than --force
}

func (p PushProblem) String() string {
	if p.Next == "" {
		return p.What
	}
	return p.What + "; " + p.Next
}

// PushRefusedError is a push refused without Force.
type PushRefusedError struct {
	Source     string
	Deployment string
	Problems   []PushProblem
}

func (e *PushRefusedError) Error() string {
	head := fmt.Sprintf("refusing to push %s into deployment %q", e.Source, e.Deployment)
	if len(e.Problems) == 1 {
		return head + ": " + e.Problems[0].String() + "; pass --force to push it anyway"
	}
	var b strings.Builder
	b.WriteString(head + ":")
	for _, p := range e.Problems {
		b.WriteString("\n  " + p.String())
	}
	b.WriteString("\npass --force to push it anyway")
	return b.String()
}

// PushState replaces the deployment's state with pushed, as its next
// snapshot (`ferry state push`): the way to restore an earlier snapshot or
// a hand-repaired one, also over a damaged latest snapshot. It refuses,
// unless opts.Force, a push that would drop the work of an interrupted
// apply still in the journal, a snapshot of another deployment or of
// another lineage, and resources of types no registered provider knows.
// The written snapshot keeps the deployment's lineage (its first snapshot
// takes pushed's) and name.
func (e *Engine) PushState(ctx context.Context, deployment string, pushed *state.State, opts PushOptions) (*PushResult, error) {
	if opts.Source == "" {
		opts.Source = "the snapshot"
	}
	for addr, m := range pushed.Machines {
		if m == nil {
			return nil, fmt.Errorf("%s is corrupted: %s has a null record; fix the file or pull a good snapshot with `ferry state pull --serial N`", opts.Source, addr)
		}
	}
	res := &PushResult{}
	st, err := e.changeState(ctx, deployment, "state push", opts.LockTimeout, true, func(cur *state.State, r stateRead) (*state.State, error) {
		if r.damaged != "" {
			res.Notes = append(res.Notes, fmt.Sprintf("the latest snapshot of %q (serial %d) cannot be read (%s); writing serial %d on top of it", deployment, cur.Serial, r.damaged, cur.Serial+1))
		}
		problems := e.pushProblems(cur, r.info, pushed, deployment, opts.Source)
		if len(problems) > 0 && !opts.Force {
			return nil, &PushRefusedError{Source: opts.Source, Deployment: deployment, Problems: problems}
		}
		for _, p := range problems {
			res.Overridden = append(res.Overridden, p.What)
		}
		if cur.Lineage != "" && pushed.Lineage == cur.Lineage && pushed.Serial < cur.Serial {
			res.Notes = append(res.Notes, fmt.Sprintf("%s has serial %d, older than the current %d; pushing it as a new snapshot", opts.Source, pushed.Serial, cur.Serial))
		}
		out := pushed.Clone()
		out.Lineage = cur.Lineage
		if out.Lineage == "" {
			out.Lineage = pushed.Lineage
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	res.State = st
	return res, nil
}

// pushProblems lists why pushing pushed over cur (read with info) would
// lose or corrupt something.
func (e *Engine) pushProblems(cur *state.State, info statestore.ReadInfo, pushed *state.State, dep, source string) []PushProblem {
	var out []PushProblem
	if info.JournalSegments > 0 {
		what := spec.Count(info.JournalChanges, "change")
		if len(info.JournalAddrs) > 0 {
			addrs := slices.Clone(info.JournalAddrs)
			slices.Sort(addrs)
			what = strings.Join(slices.Compact(addrs), ", ")
		}
		out = append(out, PushProblem{
			What: fmt.Sprintf("the journal of deployment %q holds work of an interrupted apply that is in no snapshot yet (%s), which the push would drop", dep, what),
			Next: "run `ferry plan` first to fold it into the state, then `ferry state pull` and edit that",
		})
	}
	if pushed.Deployment != "" && pushed.Deployment != dep {
		out = append(out, PushProblem{
			What: fmt.Sprintf("%s is a snapshot of deployment %q, not %q", source, pushed.Deployment, dep),
			Next: "push it with -d " + pushed.Deployment,
		})
	}
	if cur.Lineage != "" && pushed.Lineage != cur.Lineage {
		out = append(out, PushProblem{
			What: fmt.Sprintf("%s has lineage %s but the state of deployment %q has %s: it belongs to another state", source, pushed.Lineage, dep, cur.Lineage),
		})
	}
	if e.Providers != nil {
		var unknown []string
		for _, addr := range pushed.Addrs() {
			if typ := pushed.Resources[addr].Type; !e.knowsType(typ) {
				unknown = append(unknown, fmt.Sprintf("%s (type %q)", addr, typ))
			}
		}
		if len(unknown) > 0 {
			out = append(out, PushProblem{
				What: fmt.Sprintf("%s has resources of types no provider of this ferry knows: %s", source, strings.Join(unknown, ", ")),
				Next: "upgrade ferry, or remove them from the file",
			})
		}
	}
	return out
}

func (e *Engine) knowsType(typ string) bool {
	_, ok := e.Providers.Schema(typ)
	return ok
}

// CheckDeleteDeployment tells whether DeleteDeployment would delete the
// deployment, without the lock and without changing anything: nil when it
// exists and its state holds no resource and no machine. Ask it before
// asking the user to confirm.
func (e *Engine) CheckDeleteDeployment(ctx context.Context, deployment string) error {
	if err := e.deploymentExists(ctx, deployment); err != nil {
		return err
	}
	st, _, err := e.Store.Read(ctx, deployment)
	if err != nil {
		return fmt.Errorf("cannot delete deployment %q: %w", deployment, err)
	}
	return deletable(deployment, st)
}

// DeleteDeployment removes the deployment from the state store (NixOps's
// `delete`): its snapshots, journal and lock. It is refused while the
// state holds resources or machines (destroy or forget them first), so
// that ferry never forgets real objects by accident, and for a deployment
// the store does not have.
func (e *Engine) DeleteDeployment(ctx context.Context, deployment string, lockTimeout time.Duration) error {
	if err := e.deploymentExists(ctx, deployment); err != nil {
		return err
	}
	lock, err := e.lock(ctx, deployment, "delete", lockTimeout)
	if err != nil {
		return err
	}
	// After a delete, the lock is gone with the rest: releasing it then
	// says so, which is no news.
	defer lock.Release(context.WithoutCancel(ctx))
	st, _, err := e.Store.Read(ctx, deployment)
	if err != nil {
		return fmt.Errorf("cannot delete deployment %q: %w", deployment, err)
	}
	if err := deletable(deployment, st); err != nil {
		return err
	}
	return e.Store.DeleteDeployment(context.WithoutCancel(ctx), lock)
}

func (e *Engine) deploymentExists(ctx context.Context, deployment string) error {
	deps, err := e.Store.Deployments(ctx)
	if err != nil {
		return err
	}
	if !slices.Contains(deps, deployment) {
		msg := fmt.Sprintf("deployment %q does not exist in %s", deployment, e.Store.URL())
		if n := spec.Nearest(deployment, deps); n != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", n)
		}
		return errors.New(msg + "; see `ferry list`")
	}
	return nil
}

// deletable refuses the deletion of a deployment whose state still holds
// something: resources are destroyed with `ferry destroy`; machines are
// never destroyed (ferry leaves hosts alone), only forgotten.
func deletable(dep string, st *state.State) error {
	if len(st.Resources) == 0 && len(st.Machines) == 0 {
		return nil
	}
	var what, next []string
	if n := len(st.Resources); n > 0 {
		what = append(what, fmt.Sprintf("%s (%s)", spec.Count(n, "resource"), abbrev(st.Addrs(), 5)))
		next = append(next, "`ferry destroy` to delete the resources (or `ferry state rm ADDR...` to forget them)")
	}
	if n := len(st.Machines); n > 0 {
		ms := StateAddrs(st)[len(st.Resources):]
		what = append(what, fmt.Sprintf("%s (%s)", spec.Count(n, "machine"), abbrev(ms, 5)))
		next = append(next, fmt.Sprintf("`ferry state rm %s` to forget the machines (their hosts are left as they are)", strings.Join(ms, " ")))
	}
	return fmt.Errorf("deployment %q still has %s in its state: run %s; then run `ferry delete` again", dep, strings.Join(what, " and "), strings.Join(next, ", and "))
}

// abbrev joins up to n of xs, saying how many more there are.
func abbrev(xs []string, n int) string {
	if len(xs) <= n {
		return strings.Join(xs, ", ")
	}
	return strings.Join(xs[:n], ", ") + fmt.Sprintf(" and %d more", len(xs)-n)
}
