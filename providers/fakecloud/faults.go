package fakecloud

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
)

// Fault modes: see the package doc.
const (
	modeFail      = "fail"
	modeFailAfter = "fail-after"
	modeHang      = "hang"
	modeHangAfter = "hang-after"
)

// fault is a parsed fault line: "MODE [COUNT] [MESSAGE]".
type fault struct {
	mode  string
	count int // calls it still affects; 0: every call
	msg   string
}

func parseFault(line string) (fault, error) {
	fields := strings.Fields(line)
	if len(fields) == 0 {
		return fault{}, errors.New(`empty fault; write "MODE [COUNT] [MESSAGE]" with MODE fail, fail-after, hang or hang-after`)
	}
	f := fault{mode: fields[0]}
	switch f.mode {
	case modeFail, modeFailAfter, modeHang, modeHangAfter:
	default:
		return fault{}, fmt.Errorf("fault %q: unknown mode %q; use fail, fail-after, hang or hang-after", line, f.mode)
	}
	rest := fields[1:]
	if len(rest) > 0 {
		if n, err := strconv.Atoi(rest[0]); err == nil {
			if n <= 0 {
				return fault{}, fmt.Errorf("fault %q: count %d must be positive (leave it out for every call)", line, n)
			}
			f.count, rest = n, rest[1:]
		}
	}
	f.msg = strings.Join(rest, " ")
	return f, nil
}

// line writes f back as parseFault reads it.
func (f fault) line() string {
	parts := []string{f.mode}
	if f.count > 0 {
		parts = append(parts, strconv.Itoa(f.count))
	}
	if f.msg != "" {
		parts = append(parts, f.msg)
	}
	return strings.Join(parts, " ")
}

// err is the error a failing call returns.
func (f fault) err(call string) error {
	msg := f.msg
	if msg == "" {
		msg = "injected fault"
	}
	return fmt.Errorf("%s: %s", call, msg)
}

// before and after apply f around a call's work: nil to go on. hang is
// called when the call starts hanging.
func (f *fault) before(ctx context.Context, call string, hang func()) error {
	switch {
	case f == nil:
		return nil
	case f.mode == modeFail:
		return f.err(call)
	case f.mode == modeHang:
		hang()
		<-ctx.Done()
		return fmt.Errorf("%s: interrupted while hanging (injected): %w", call, ctx.Err())
	}
	return nil
}

func (f *fault) after(ctx context.Context, call string, hang func()) error {
	switch {
	case f == nil:
		return nil
	case f.mode == modeFailAfter:
		return f.err(call)
	case f.mode == modeHangAfter:
		hang()
		<-ctx.Done()
		return fmt.Errorf("%s: done, then interrupted while hanging (injected): %w", call, ctx.Err())
	}
	return nil
}

// callNames lists every call a fault may name, sorted: the calls of
// every type, and those only some types make.
func callNames() []string {
	var out []string
	for _, typ := range []string{ThingType, SlowType, FlakyType, HostType} {
		for _, op := range []string{"create", "get", "update", "delete", "find"} {
			out = append(out, typ+"."+op)
		}
	}
	out = append(out, ThingType+".describe", FlakyType+".ready")
	slices.Sort(out)
	return out
}

func knownCall(call string) bool { return slices.Contains(callNames(), call) }
