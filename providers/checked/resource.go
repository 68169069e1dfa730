package checked

import (
	"context"
	"fmt"
	"reflect"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// resource checks every call to inner against its schema, taken once when
// wrapped. It holds nothing that changes, so it is as safe for concurrent
// use as inner.
type resource struct {
	inner  providers.Resource
	schema spec.Schema
}

// wrapped marks a checker, so that Wrap does not check twice.
type wrapped interface{ unwrap() providers.Resource }

func (c *resource) unwrap() providers.Resource { return c.inner }

// Unwrap returns the resource Wrap was given; r itself when it is not a
// checker.
func Unwrap(r providers.Resource) providers.Resource {
	if w, ok := r.(wrapped); ok {
		return w.unwrap()
	}
	return r
}

// report collects the problems of one call.
type report struct {
	c        *resource
	call     string
	addr     string
	secrets  map[string][]string
	problems []string
}

func (c *resource) report(call, addr string, attrMaps ...map[string]any) *report {
	return &report{c: c, call: call, addr: addr, secrets: c.secrets(attrMaps...)}
}

func (r *report) add(format string, args ...any) {
	r.problems = append(r.problems, fmt.Sprintf(format, args...))
}

// err returns the provider's error, redacted, or a *Fault when there were
// problems or the error held a sensitive value.
func (r *report) err(provErr error) error {
	leaked, provErr := redact(provErr, r.secrets)
	for _, name := range leaked {
		r.add("an error message holding the value of sensitive attribute %q", name)
	}
	if len(r.problems) == 0 {
		return provErr
	}
	return &Fault{Type: r.c.schema.Type, Call: r.call, Addr: r.addr, Problems: r.problems, Err: provErr}
}

// secrets gathers the values of the sensitive attributes in attrMaps.
func (c *resource) secrets(attrMaps ...map[string]any) map[string][]string {
	var out map[string][]string
	for _, name := range c.schema.Sensitive() {
		for _, m := range attrMaps {
			if leaves := stringLeaves(m[name]); len(leaves) > 0 {
				if out == nil {
					out = map[string][]string{}
				}
				out[name] = append(out[name], leaves...)
			}
		}
	}
	return out
}

// render shows an attribute's value in a problem, or hides it when the
// attribute is sensitive.
func (c *resource) render(name string, v any) string {
	if a, ok := c.schema.Attr(name); ok && a.Sensitive {
		return "(sensitive value)"
	}
	return spec.Render(v)
}

// state checks attributes that a call returns as the object's state:
// declared by the schema, known, JSON-like.
func (r *report) state(st map[string]any, unknownWhy string) {
	for _, name := range sortedKeys(st) {
		if _, ok := r.c.schema.Attr(name); !ok {
			r.add("attribute %q, which its schema does not declare", name)
			continue
		}
		v := st[name]
		if spec.HasUnknown(v) {
			r.add("%q still unknown %s", name, unknownWhy)
			continue
		}
		if err := JSONValue(v); err != nil {
			r.add("%q that is not JSON-like (%v)", name, err)
		}
	}
}

func (c *resource) Schema() spec.Schema { return c.schema }

func (c *resource) Plan(ctx context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	resp, err := c.inner.Plan(ctx, req)
	rep := c.report("Plan", req.Addr, req.Prior, req.Config)
	if err != nil {
		return resp, rep.err(err)
	}
	if resp.Planned == nil {
		rep.add("no planned attributes")
	}
	for _, name := range sortedKeys(resp.Planned) {
		a, ok := c.schema.Attr(name)
		if !ok {
			rep.add("attribute %q, which its schema does not declare", name)
			continue
		}
		pv := resp.Planned[name]
		if err := jsonShape(pv, true); err != nil {
			rep.add("%q that is not JSON-like (%v)", name, err)
			continue
		}
		// An argument the configuration gives, known, is planned as given:
		// the engine shows the user the configuration, not something else.
		cv := req.Config[name]
		if (a.Computed && !a.Optional) || cv == nil || spec.HasUnknown(cv) {
			continue
		}
		if !reflect.DeepEqual(cv, pv) {
			rep.add("%q = %s where the configuration says %s", name, c.render(name, pv), c.render(name, cv))
		}
	}
	return resp, rep.err(nil)
}

func (c *resource) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	resp, err := c.inner.Apply(ctx, req)
	call := fmt.Sprintf("Apply(%s)", req.Action)
	rep := c.report(call, req.Addr, req.Prior, req.Planned, resp.State)
	if req.Action != providers.Create && req.Action != providers.Update {
		return resp, rep.err(err)
	}
	if err != nil {
		// What exists of a failed create is recorded as it is returned.
		if resp.State != nil {
			rep.state(resp.State, "in the partial state")
		}
		return resp, rep.err(err)
	}
	if resp.State == nil {
		rep.add("no state after a successful %s", req.Action)
		return resp, rep.err(nil)
	}
	rep.state(resp.State, "after apply")
	for _, a := range c.schema.Attrs {
		pv, planned := req.Planned[a.Name]
		if a.Computed || !planned || spec.HasUnknown(pv) {
			continue
		}
		if v, ok := resp.State[a.Name]; ok && !spec.HasUnknown(v) && !reflect.DeepEqual(pv, v) {
			rep.add("%q = %s where the plan said %s", a.Name, c.render(a.Name, v), c.render(a.Name, pv))
		}
	}
	return resp, rep.err(nil)
}

func (c *resource) Read(ctx context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	resp, err := c.inner.Read(ctx, req)
	rep := c.report("Read", req.Addr, req.Prior, resp.State)
	if err == nil && resp.State != nil {
		rep.state(resp.State, "after a read")
	}
	return resp, rep.err(err)
}
