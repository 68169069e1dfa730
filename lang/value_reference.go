package lang

import (
	"fmt"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// refMarker starts the text of a reference turned into a string, so that
// toValue can recognise strings built with str(), % or format().
const refMarker = "<reference "

// reference is r.<attr>: a placeholder for a value known only after
// apply. Passing it as an argument makes a dependency edge; it cannot be
// computed with.
type reference struct {
	ref  spec.Ref
	kind spec.Kind // of the attribute it points to; "" when unknown
}

var (
	_ starlark.Mapping    = (*reference)(nil)
	_ starlark.HasBinary  = (*reference)(nil)
	_ starlark.Comparable = (*reference)(nil)
)

func newReference(addr, attr string, kind spec.Kind) *reference {
	return &reference{ref: spec.Ref{Addr: addr, Attr: attr}, kind: kind}
}

func (r *reference) String() string        { return refMarker + r.ref.String() + ">" }
func (r *reference) Type() string          { return "reference" }
func (r *reference) Freeze()               {} // immutable
func (r *reference) Truth() starlark.Bool  { return starlark.True }
func (r *reference) Hash() (uint32, error) { return starlark.String(r.ref.String()).Hash() }

func (r *reference) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return compareByIdentity(op, r.ref.String(), y.(*reference).ref.String(), r.Type())
}

// Get implements a.triggers["v"]: a reference to one entry of a map
// attribute.
func (r *reference) Get(k starlark.Value) (starlark.Value, bool, error) {
	if r.kind != spec.KindMap && r.kind != spec.KindAny && r.kind != "" {
		return nil, false, fmt.Errorf("cannot index %s: it refers to a %s attribute; only dict attributes can be indexed", r.ref, kindName(r.kind))
	}
	key, ok := k.(starlark.String)
	if !ok {
		return nil, false, fmt.Errorf("cannot index %s with %s: keys must be strings", r.ref, k.Type())
	}
	if key == "" || strings.Contains(string(key), ".") {
		return nil, false, fmt.Errorf("cannot index %s with %q: a referenced key must be non-empty and contain no \".\"", r.ref, string(key))
	}
	return newReference(r.ref.Addr, r.ref.Attr+"."+string(key), spec.KindAny), true, nil
}

// Binary refuses arithmetic and concatenation with a reference; for
// concatenation it points at format().
func (r *reference) Binary(op syntax.Token, y starlark.Value, side starlark.Side) (starlark.Value, error) {
	hint := ""
	if op == syntax.PLUS {
		hint = `, or build a string with format("...{}...", reference)`
	}
	return nil, fmt.Errorf("cannot use the reference %s with %s: references are opaque until apply; pass the reference itself as an argument%s", r.ref, op, hint)
}

// compareByIdentity implements == and != for values that stand for a
// named object; they have no order.
func compareByIdentity(op syntax.Token, x, y, typ string) (bool, error) {
	switch op {
	case syntax.EQL:
		return x == y, nil
	case syntax.NEQ:
		return x != y, nil
	}
	return false, fmt.Errorf("%s values cannot be ordered (%s)", typ, op)
}
