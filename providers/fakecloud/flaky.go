package fakecloud

import (
	"context"
	"fmt"

	"github.com/nixferry/ferry/engine/spec"
)

// FlakyType is the fake resource whose create can fail halfway.
const FlakyType = "fake.flaky"

func flakySchema() spec.Schema {
	return spec.Schema{
		Type: FlakyType,
		Doc:  "An object made in two steps; with fail_after_create the second fails, leaving a partial object (ready = false) that ferry records as tainted.",
		Attrs: []spec.Attr{
			{Name: "value", Kind: spec.KindString, Optional: true, Default: "", Doc: "Any string; changes in place."},
			{Name: "zone", Kind: spec.KindString, Optional: true, Default: "a", ForceNew: true, Doc: "Where the object lives; a change replaces it."},
			{Name: "fail_after_create", Kind: spec.KindBool, Optional: true, Default: false, Doc: "Make the second step of a create fail."},
			{Name: "id", Kind: spec.KindString, Computed: true, Doc: "flaky-<16 hex digits>."},
			{Name: "ready", Kind: spec.KindBool, Computed: true, Doc: "Whether the second step of the create was done."},
		},
	}
}

func flakyKind() kind {
	return kind{
		schema:   flakySchema(),
		prefix:   "flaky",
		predict:  map[string]any{"ready": true},
		computed: func(_ *Cloud, o *Object) { o.Attrs["ready"] = false },
	}
}

// flaky is fake.flaky.
type flaky struct{ base }

// secondStep makes a created object ready with a call of its own
// (fake.flaky.ready), or fails when the object was asked to. Either way
// the object exists: a failure returns it as it is.
func (f *flaky) secondStep(ctx context.Context, addr string, o Object) (Object, error) {
	if fail, _ := o.Attrs["fail_after_create"].(bool); fail {
		return o, fmt.Errorf("create %s: %s %s was made, but its second step failed because fail_after_create = True; the next plan replaces it", addr, FlakyType, o.ID)
	}
	err := f.c.call(ctx, f.callName("ready"), func() error {
		o.Attrs["ready"] = true
		return f.c.store.Put(o)
	})
	if err != nil {
		cur, ok, gerr := f.c.store.Get(FlakyType, o.ID)
		if gerr == nil && ok {
			o = cur
		}
		return o, fmt.Errorf("create %s: %s %s was made, but its second step failed (the next plan replaces it): %w", addr, FlakyType, o.ID, err)
	}
	return o, nil
}
