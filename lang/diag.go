package lang

import (
	"errors"
	"fmt"
	"strings"

	"go.starlark.net/resolve"
	"go.starlark.net/starlark"
	"go.starlark.net/syntax"

	"github.com/nixferry/ferry/engine/spec"
)

// builtinFile is the file name Starlark gives frames of Go builtins.
const builtinFile = "<builtin>"

// toplevel is the name Starlark gives a file's top-level code.
const toplevel = "<toplevel>"

type lineCol struct{ line, col int32 }

// indexCalls records where each call expression of f starts, keyed by the
// position of its "(", which is the position Starlark reports for a call.
// Diagnostics and declared positions then point at the start of
// `null.resource(...)` rather than at its parenthesis.
func (r *run) indexCalls(f *syntax.File) {
	starts := map[lineCol]lineCol{}
	syntax.Walk(f, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok {
			start, _ := c.Fn.Span()
			starts[lineCol{c.Lparen.Line, c.Lparen.Col}] = lineCol{start.Line, start.Col}
		}
		return true
	})
	r.callStarts[f.Path] = starts
}

// pos converts a Starlark position (whose file name is already relative
// to Dir) into a spec.Pos, moving call positions to the call's start.
func (r *run) pos(p syntax.Position) spec.Pos {
	if !p.IsValid() {
		return spec.Pos{}
	}
	file := p.Filename()
	lc := lineCol{p.Line, p.Col}
	if start, ok := r.callStarts[file][lc]; ok {
		lc = start
	}
	return spec.Pos{File: file, Line: int(lc.line), Col: int(lc.col)}
}

// callerPos is the position of the innermost Starlark (not Go) frame at
// or above depth: for a builtin, depth 1 is the code that called it.
func (r *run) callerPos(thread *starlark.Thread, depth int) spec.Pos {
	for d := depth; d < thread.CallStackDepth(); d++ {
		if fr := thread.CallFrame(d); fr.Pos.Filename() != builtinFile {
			return r.pos(fr.Pos)
		}
	}
	return spec.Pos{}
}

// callerError builds a diagnostic about the call of the running builtin.
func (r *run) callerError(thread *starlark.Thread, format string, args ...any) *spec.Diagnostic {
	return r.stackError(thread.CallStack(), fmt.Sprintf(format, args...))
}

// stackError builds a diagnostic at the innermost Starlark frame of
// stack. When that frame is inside a function, Detail lists the calls
// that led there, up to the top level of the file being executed.
func (r *run) stackError(stack starlark.CallStack, summary string) *spec.Diagnostic {
	for len(stack) > 0 && stack[len(stack)-1].Pos.Filename() == builtinFile {
		stack = stack[:len(stack)-1]
	}
	if len(stack) == 0 {
		return &spec.Diagnostic{Summary: summary}
	}
	inner := len(stack) - 1
	top := inner
	for top > 0 && stack[top].Name != toplevel {
		top--
	}
	var detail []string
	for i := inner - 1; i >= top; i-- {
		if stack[i].Pos.Filename() == builtinFile {
			continue // a Go builtin that called back into Starlark
		}
		line := "called from " + r.pos(stack[i].Pos).String()
		if stack[i].Name != toplevel {
			line += " in " + stack[i].Name
		}
		detail = append(detail, line)
	}
	return &spec.Diagnostic{
		Pos:     r.pos(stack[inner].Pos),
		Summary: summary,
		Detail:  strings.Join(detail, "\n"),
	}
}

// record turns an error out of Starlark into diagnostics.
func (r *run) record(err error) {
	var reported reportedError
	if errors.As(err, &reported) {
		return
	}
	if d, ok := spec.AsDiagnostic(err); ok {
		r.diags = append(r.diags, d)
		return
	}
	var serr syntax.Error
	if errors.As(err, &serr) {
		r.diags = append(r.diags, spec.Errorf(r.pos(serr.Pos), serr.Msg))
		return
	}
	var rerrs resolve.ErrorList
	if errors.As(err, &rerrs) {
		for _, e := range rerrs {
			r.diags = append(r.diags, spec.Errorf(r.pos(e.Pos), r.suggestName(e.Msg)))
		}
		return
	}
	var eerr *starlark.EvalError
	if errors.As(err, &eerr) {
		msg := eerr.Msg
		if r.stepLimitHit {
			msg = fmt.Sprintf("configuration exceeded the execution step limit (MaxSteps = %d): look for an endless loop, or raise MaxSteps", r.opts.MaxSteps)
		}
		r.diags = append(r.diags, r.stackError(eerr.CallStack, msg))
		return
	}
	r.diags = append(r.diags, &spec.Diagnostic{Summary: err.Error()})
}

// suggestName adds a likely builtin to the resolver's "undefined: x".
func (r *run) suggestName(msg string) string {
	name, ok := strings.CutPrefix(msg, "undefined: ")
	if !ok || strings.Contains(name, " ") {
		return msg
	}
	candidates := append(r.predeclared.Keys(), starlark.Universe.Keys()...)
	if s := spec.Nearest(name, candidates); s != "" {
		return fmt.Sprintf("%s (did you mean %s?)", msg, s)
	}
	return msg
}
