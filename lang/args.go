package lang

import (
	"fmt"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// This file holds what the builtins other than resource calls share:
// binding arguments to parameters, collecting the problems of one call,
// and reading the usual argument shapes (a string, a list of strings, a
// list of modules), so that every builtin accepts the same shapes and
// words its errors the same way.

// param is one parameter of a builtin. def and doc are its default (as
// Starlark source, "" for none) and its description: they are what
// docs/reference.md says of it (reference.go).
type param struct {
	name     string
	required bool
	def      string
	doc      string
}

// callProblems collects what is wrong with one call of a builtin. Each
// problem is reported at the caller, prefixed with the builtin's name
// ("machine: ..."), and evaluation goes on, as for resource calls.
type callProblems struct {
	fn   string
	list []string
}

// add records a problem prefixed with the builtin's name.
func (p *callProblems) add(format string, a ...any) {
	p.list = append(p.list, p.fn+": "+fmt.Sprintf(format, a...))
}

// addArg records a problem with the value of argument name.
func (p *callProblems) addArg(name string, err *convertError) {
	p.add("argument %q%s", name, withPath(err))
}

// addPlain records a problem without the builtin's name, for messages
// that name their object themselves ("duplicate machine ...").
func (p *callProblems) addPlain(format string, a ...any) {
	p.list = append(p.list, fmt.Sprintf(format, a...))
}

func (p *callProblems) empty() bool { return len(p.list) == 0 }

// report records every problem at the caller of the running builtin. It
// returns an error when evaluation must stop (see run.report).
func (p *callProblems) report(r *run, thread *starlark.Thread) error {
	for _, msg := range p.list {
		if err := r.report(r.callerError(thread, "%s", msg)); err != nil {
			return err
		}
	}
	return nil
}

// unpack binds the arguments of a call to params: positional arguments
// in order, keyword arguments by name. An argument passed as None counts
// as not passed and is absent from the result, as for resource calls.
// Unknown, repeated and missing arguments go to p.
func unpack(p *callProblems, params []param, args starlark.Tuple, kwargs []starlark.Tuple) map[string]starlark.Value {
	out := make(map[string]starlark.Value, len(params))
	given := make(map[string]bool, len(params))
	if len(args) > len(params) {
		p.add("got %d positional arguments, want at most %d", len(args), len(params))
		args = args[:len(params)]
	}
	for i, v := range args {
		given[params[i].name] = true
		if v != starlark.None {
			out[params[i].name] = v
		}
	}
	names := make([]string, len(params))
	known := make(map[string]bool, len(params))
	for i, x := range params {
		names[i] = x.name
		known[x.name] = true
	}
	for _, kv := range kwargs {
		key, v := string(kv[0].(starlark.String)), kv[1]
		switch {
		case !known[key]:
			msg := fmt.Sprintf("unexpected argument %q", key)
			if s := spec.Nearest(key, names); s != "" {
				msg += fmt.Sprintf(" (did you mean %q?)", s)
			}
			p.add("%s", msg)
		case given[key]:
			p.add("got two values for argument %q", key)
		default:
			given[key] = true
			if v != starlark.None {
				out[key] = v
			}
		}
	}
	for _, x := range params {
		if _, ok := out[x.name]; x.required && !ok {
			p.add("missing required argument %q", x.name)
		}
	}
	return out
}

// wantString reads a string argument. A reference or a format() value,
// or a string built from one, is refused: the builtins that call this
// need the value now.
func wantString(v starlark.Value) (string, *convertError) {
	switch v := v.(type) {
	case starlark.String:
		if what, ok := formattedOpaque(string(v)); ok {
			return "", &convertError{msg: fmt.Sprintf("a string was built from %s, whose value is only known after apply; pass a plain string", what)}
		}
		return string(v), nil
	case *reference:
		return "", &convertError{msg: fmt.Sprintf("got the reference %s, whose value is only known after apply; pass a plain string", v.ref)}
	case *formatValue:
		return "", &convertError{msg: fmt.Sprintf("got %s, whose value is only known after apply; pass a plain string", v.f)}
	}
	return "", &convertError{msg: fmt.Sprintf("got %s, want string", v.Type())}
}

// wantBool reads a bool argument.
func wantBool(v starlark.Value) (bool, *convertError) {
	if b, ok := v.(starlark.Bool); ok {
		return bool(b), nil
	}
	return false, &convertError{msg: fmt.Sprintf("got %s, want bool", v.Type())}
}

// wantInt reads an int argument that fits an int64.
func wantInt(v starlark.Value) (int64, *convertError) {
	i, ok := v.(starlark.Int)
	if !ok {
		return 0, &convertError{msg: fmt.Sprintf("got %s, want int", v.Type())}
	}
	n, ok := i.Int64()
	if !ok {
		return 0, &convertError{msg: fmt.Sprintf("%s is too large", i)}
	}
	return n, nil
}

// sequence returns the elements of a list or tuple.
func sequence(v starlark.Value) ([]starlark.Value, bool) {
	switch v := v.(type) {
	case *starlark.List:
		out := make([]starlark.Value, v.Len())
		for i := range out {
			out[i] = v.Index(i)
		}
		return out, true
	case starlark.Tuple:
		return v, true
	}
	return nil, false
}

// wantStrings reads a list (or tuple) of strings.
func wantStrings(v starlark.Value) ([]string, *convertError) {
	items, ok := sequence(v)
	if !ok {
		return nil, &convertError{msg: fmt.Sprintf("got %s, want list of strings", v.Type())}
	}
	out := make([]string, len(items))
	for i, x := range items {
		s, err := wantString(x)
		if err != nil {
			return nil, err.under(fmt.Sprintf("[%d]", i))
		}
		out[i] = s
	}
	return out, nil
}

// wantModules reads a list (or tuple) of modules made by nix.module() or
// nix.inline().
func wantModules(v starlark.Value) ([]*moduleValue, *convertError) {
	items, ok := sequence(v)
	if !ok {
		return nil, &convertError{msg: fmt.Sprintf("got %s, want list of modules from nix.module() or nix.inline()", v.Type())}
	}
	out := make([]*moduleValue, len(items))
	for i, x := range items {
		m, ok := x.(*moduleValue)
		if !ok {
			return nil, &convertError{path: fmt.Sprintf("[%d]", i), msg: fmt.Sprintf("got %s, want a module from nix.module() or nix.inline()", x.Type())}
		}
		out[i] = m
	}
	return out, nil
}
