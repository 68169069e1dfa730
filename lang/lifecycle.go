package lang

import (
	"fmt"
	"slices"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// lifecycleBuiltins provides lifecycle(create_before_destroy = False,
// prevent_destroy = False, ignore_changes = []): a resource's lifecycle
// settings with OpenTofu's meaning, for the lifecycle = ... argument of
// every resource builtin. The value may be shared by many resources;
// ignore_changes is checked against each resource's schema where it is
// used.
func lifecycleBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"lifecycle": starlark.NewBuiltin("lifecycle", declareLifecycle)}, nil
}

const (
	lcCreateBeforeDestroy = "create_before_destroy"
	lcPreventDestroy      = "prevent_destroy"
	lcIgnoreChanges       = "ignore_changes"
)

var (
	lifecycleParams = []param{
		{name: lcCreateBeforeDestroy, def: "False", doc: "Create the replacement first, then destroy the old object (recorded as deposed until it is gone)."},
		{name: lcPreventDestroy, def: "False", doc: "A plan that would destroy or replace the resource fails, naming it and its declaration."},
		{name: lcIgnoreChanges, def: "[]", doc: "Attributes whose configured changes are ignored: the object keeps what it has."},
	}
	lifecycleDoc = builtinDoc{name: "lifecycle", params: lifecycleParams, returns: "a value for the lifecycle argument of every resource",
		summary: "A resource's lifecycle settings, with OpenTofu's meaning. Keyword arguments only; the value may be shared by many resources."}
	lifecycleKeys = []string{lcCreateBeforeDestroy, lcIgnoreChanges, lcPreventDestroy}
)

func declareLifecycle(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "lifecycle"}
	if len(args) > 0 {
		p.add("got %d positional arguments: pass create_before_destroy, prevent_destroy and ignore_changes by keyword", len(args))
	}
	a := unpack(p, lifecycleParams, nil, kwargs)
	lv := &lifecycleValue{pos: r.callerPos(thread, 1)}
	readLifecycle(a, &lv.l, p.addArg)
	// The value is returned even with problems (they are reported), so
	// that the resources using it do not add errors of their own.
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return lv, nil
}

// readLifecycle reads the settings in a (by argument name) into l;
// problems go to bad.
func readLifecycle(a map[string]starlark.Value, l *spec.Lifecycle, bad func(name string, err *convertError)) {
	for _, x := range []struct {
		name string
		dst  *bool
	}{{lcCreateBeforeDestroy, &l.CreateBeforeDestroy}, {lcPreventDestroy, &l.PreventDestroy}} {
		if v, ok := a[x.name]; ok {
			if b, err := wantBool(v); err != nil {
				bad(x.name, err)
			} else {
				*x.dst = b
			}
		}
	}
	v, ok := a[lcIgnoreChanges]
	if !ok {
		return
	}
	names, err := wantStrings(v)
	if err != nil {
		bad(lcIgnoreChanges, err)
		return
	}
	seen := map[string]bool{}
	for i, n := range names {
		if n == "" {
			bad(lcIgnoreChanges, &convertError{path: fmt.Sprintf("[%d]", i), msg: "empty attribute name"})
			continue
		}
		if !seen[n] { // a repeated name counts once
			seen[n] = true
			l.IgnoreChanges = append(l.IgnoreChanges, n)
		}
	}
}

// lifecycleArg reads lifecycle = ... of a resource: a lifecycle() value,
// or a dict with the same keys (as OpenTofu's lifecycle block is
// written). The attributes in ignore_changes must be arguments of the
// resource's schema.
func (rt *resourceType) lifecycleArg(p *callProblems, v starlark.Value) spec.Lifecycle {
	var l spec.Lifecycle
	from := ""
	switch v := v.(type) {
	case *lifecycleValue:
		l = v.l
		l.IgnoreChanges = append([]string(nil), v.l.IgnoreChanges...)
		from = fmt.Sprintf(" (lifecycle() at %s)", v.pos)
	case *starlark.Dict:
		a := map[string]starlark.Value{}
		for key, val := range v.Entries() {
			k, ok := key.(starlark.String)
			if !ok {
				p.add("argument \"lifecycle\": key %s is a %s; keys are %s", key, key.Type(), strings.Join(lifecycleKeys, ", "))
				continue
			}
			if !slices.Contains(lifecycleKeys, string(k)) {
				p.add("argument \"lifecycle\": %s", unexpectedKey(string(k), lifecycleKeys))
				continue
			}
			if val != starlark.None {
				a[string(k)] = val
			}
		}
		readLifecycle(a, &l, func(name string, err *convertError) {
			p.add("argument \"lifecycle\"[%q]%s", name, withPath(err))
		})
	default:
		p.add(`argument "lifecycle": got %s, want lifecycle(...) or a dict such as {"prevent_destroy": True}`, v.Type())
		return l
	}
	kept := l.IgnoreChanges[:0]
	for _, n := range l.IgnoreChanges {
		if msg := rt.ignorable(n); msg != "" {
			p.add("argument \"lifecycle\": ignore_changes: %s%s", msg, from)
			continue
		}
		kept = append(kept, n)
	}
	l.IgnoreChanges = kept
	if len(l.IgnoreChanges) == 0 {
		l.IgnoreChanges = nil
	}
	return l
}

// ignorable explains why changes to attribute name of the resource cannot
// be ignored; "" when they can.
func (rt *resourceType) ignorable(name string) string {
	i, ok := rt.args.attrs[name]
	if !ok {
		msg := fmt.Sprintf("%s has no argument %q", rt.schema.Type, name)
		var args []string
		for _, a := range rt.schema.Attrs {
			if a.Required || a.Optional {
				args = append(args, a.Name)
			}
		}
		if s := spec.Nearest(name, args); s != "" {
			msg += fmt.Sprintf(" (did you mean %q?)", s)
		}
		return msg
	}
	if a := rt.schema.Attrs[i]; !a.Required && !a.Optional {
		return fmt.Sprintf("%q is computed by the provider; only arguments can be ignored", name)
	}
	return ""
}

// unexpectedKey is the message about a dict key that is not one of keys.
func unexpectedKey(key string, keys []string) string {
	msg := fmt.Sprintf("unexpected key %q", key)
	if s := spec.Nearest(key, keys); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return msg + "; keys are " + strings.Join(keys, ", ")
}

// lifecycleValue is what lifecycle() returns.
type lifecycleValue struct {
	l   spec.Lifecycle
	pos spec.Pos
}

var _ starlark.HasAttrs = (*lifecycleValue)(nil)

func (v *lifecycleValue) String() string {
	quoted := make([]string, len(v.l.IgnoreChanges))
	for i, n := range v.l.IgnoreChanges {
		quoted[i] = fmt.Sprintf("%q", n)
	}
	return fmt.Sprintf("lifecycle(create_before_destroy = %s, prevent_destroy = %s, ignore_changes = [%s])",
		starlark.Bool(v.l.CreateBeforeDestroy), starlark.Bool(v.l.PreventDestroy), strings.Join(quoted, ", "))
}
func (v *lifecycleValue) Type() string          { return "lifecycle" }
func (v *lifecycleValue) Freeze()               {} // immutable
func (v *lifecycleValue) Truth() starlark.Bool  { return starlark.True }
func (v *lifecycleValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: lifecycle") }

// Attr returns the settings: l.create_before_destroy, l.prevent_destroy
// and l.ignore_changes (a frozen list).
func (v *lifecycleValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case lcCreateBeforeDestroy:
		return starlark.Bool(v.l.CreateBeforeDestroy), nil
	case lcPreventDestroy:
		return starlark.Bool(v.l.PreventDestroy), nil
	case lcIgnoreChanges:
		elems := make([]starlark.Value, len(v.l.IgnoreChanges))
		for i, n := range v.l.IgnoreChanges {
			elems[i] = starlark.String(n)
		}
		list := starlark.NewList(elems)
		list.Freeze()
		return list, nil
	}
	return nil, nil // starlark reports "lifecycle has no .x field or method"
}

func (v *lifecycleValue) AttrNames() []string { return lifecycleKeys }

func (v *lifecycleValue) passedItself() string {
	return "got a lifecycle; pass it to a resource as lifecycle = ..."
}
