package lang

import (
	"strings"
	"time"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// This file reads the meta-arguments every resource builtin takes besides
// its schema's attributes (name and depends_on aside): provider = p,
// lifecycle = ..., timeouts = {...} and import_id = "...".

// metaArg reads the meta-argument key (not None) into res.
func (rt *resourceType) metaArg(p *callProblems, res *spec.Resource, key string, v starlark.Value) {
	switch key {
	case argProvider:
		res.Provider = rt.providerArg(p, v)
	case argLifecycle:
		res.Lifecycle = rt.lifecycleArg(p, v)
	case argTimeouts:
		res.Timeouts = timeoutsArg(p, v)
	case argImportID:
		res.ImportID = importIDArg(p, v)
	}
}

// The operations timeouts = {...} may bound.
const (
	timeoutCreate = "create"
	timeoutUpdate = "update"
	timeoutDelete = "delete"
)

var timeoutKeys = []string{timeoutCreate, timeoutUpdate, timeoutDelete}

// timeoutsArg reads timeouts = {"create": "20m", "update": "5m",
// "delete": "10m"}: any of the three keys, each a positive duration.
func timeoutsArg(p *callProblems, v starlark.Value) spec.Timeouts {
	var t spec.Timeouts
	d, ok := v.(*starlark.Dict)
	if !ok {
		p.add(`argument "timeouts": got %s, want a dict such as {"create": "20m", "delete": "10m"}`, v.Type())
		return t
	}
	for key, val := range d.Entries() {
		k, ok := key.(starlark.String)
		if !ok {
			p.add("argument \"timeouts\": key %s is a %s; keys are %s", key, key.Type(), strings.Join(timeoutKeys, ", "))
			continue
		}
		var dst *time.Duration
		switch string(k) {
		case timeoutCreate:
			dst = &t.Create
		case timeoutUpdate:
			dst = &t.Update
		case timeoutDelete:
			dst = &t.Delete
		default:
			p.add("argument \"timeouts\": %s", unexpectedKey(string(k), timeoutKeys))
			continue
		}
		if val == starlark.None {
			continue
		}
		dur, msg := wantDuration(val)
		switch {
		case msg != "":
			p.add("argument \"timeouts\"[%q]: %s", string(k), msg)
		case dur <= 0:
			p.add("argument \"timeouts\"[%q]: %s: want a positive duration (leave the key out for the provider's own)", string(k), dur)
		default:
			*dst = dur
		}
	}
	return t
}

// importIDArg reads import_id = "...": the ID of an existing object to
// adopt. The plan needs it, so it must be a plain, non-empty string.
func importIDArg(p *callProblems, v starlark.Value) string {
	if what, ok := opaque(v); ok {
		p.add("argument \"import_id\": got %s, whose value is only known after apply; import_id must be known when ferry plans: pass the object's ID as a plain string", what)
		return ""
	}
	id, err := wantString(v)
	switch {
	case err != nil:
		p.addArg(argImportID, err)
	case id == "":
		p.add("argument \"import_id\" is empty: pass the ID of the object to adopt, or leave import_id out to create one")
	}
	return id
}

// opaque describes a value known only after apply (a reference, a
// format() value, or a string built from one) for messages.
func opaque(v starlark.Value) (string, bool) {
	switch v := v.(type) {
	case *reference:
		return "the reference " + v.ref.String(), true
	case *formatValue:
		return v.f.String(), true
	case starlark.String:
		if what, ok := formattedOpaque(string(v)); ok {
			return "a string built from " + what, true
		}
	}
	return "", false
}
