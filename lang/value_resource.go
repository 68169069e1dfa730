package lang

import (
	"fmt"
	"sort"
	"strings"

	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// resourceValue is what a resource builtin such as null.resource returns.
// Its attributes are references (r.id), which is how one resource comes to
// depend on another; r.address and r.name are plain strings.
type resourceValue struct {
	typ  *resourceType
	name string
	addr string // typ.schema.Type + "." + name
}

func newResourceValue(typ *resourceType, name string) *resourceValue {
	return &resourceValue{typ: typ, name: name, addr: typ.schema.Type + "." + name}
}

var (
	_ starlark.HasAttrs   = (*resourceValue)(nil)
	_ starlark.Comparable = (*resourceValue)(nil)
)

func (v *resourceValue) address() string { return v.addr }

func (v *resourceValue) String() string        { return "<resource " + v.address() + ">" }
func (v *resourceValue) Type() string          { return v.typ.schema.Type }
func (v *resourceValue) Freeze()               {} // immutable
func (v *resourceValue) Truth() starlark.Bool  { return starlark.True }
func (v *resourceValue) Hash() (uint32, error) { return starlark.String(v.address()).Hash() }

func (v *resourceValue) CompareSameType(op syntax.Token, y starlark.Value, depth int) (bool, error) {
	return compareByIdentity(op, v.address(), y.(*resourceValue).address(), v.Type())
}

// Attr returns r.address, r.name, or a reference to a schema attribute.
func (v *resourceValue) Attr(name string) (starlark.Value, error) {
	switch name {
	case "address":
		return starlark.String(v.address()), nil
	case "name":
		return starlark.String(v.name), nil
	}
	if i, ok := v.typ.args.attrs[name]; ok {
		return newReference(v.address(), name, v.typ.schema.Attrs[i].Kind), nil
	}
	msg := fmt.Sprintf("%s has no attribute %q", v.address(), name)
	if s := spec.Nearest(name, v.AttrNames()); s != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", s)
	}
	return nil, fmt.Errorf("%s; valid attributes: %s", msg, strings.Join(v.AttrNames(), ", "))
}

func (v *resourceValue) AttrNames() []string {
	names := append([]string{"address", "name"}, v.typ.args.attrNames...)
	sort.Strings(names)
	return names
}

// passedItself explains what to do when the resource itself is passed
// where a value is expected.
func (v *resourceValue) passedItself() string {
	return fmt.Sprintf("got the resource %s itself; pass an attribute such as %s.%s", v.address(), v.name, v.typ.example)
}
