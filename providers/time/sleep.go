package timeprovider

import (
	"context"
	"fmt"
	"reflect"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

// Type is the resource type name as users call it.
const Type = "time.sleep"

// DefaultDuration is used when a time.sleep has no duration argument.
const DefaultDuration = "50ms"

// New returns the time.sleep implementation. It holds no state and is safe
// for concurrent use.
func New() providers.Resource { return sleep{} }

// Provider returns the "time" provider: time.sleep, without
// configuration.
func Provider() providers.Provider {
	return &providers.Static{Namespace: "time", Types: []providers.Resource{New()}}
}

type sleep struct{}

func (sleep) Schema() spec.Schema {
	return spec.Schema{
		Type: Type,
		Doc:  "Waits for a duration when created and when destroyed.",
		Attrs: []spec.Attr{
			{
				Name:     "duration",
				Kind:     spec.KindDuration,
				Doc:      `How long create and destroy wait, e.g. "30s" or "1m30s". Changing it alone waits for nothing.`,
				Optional: true,
				Default:  DefaultDuration,
			},
			{
				Name:     "triggers",
				Kind:     spec.KindMap,
				Doc:      "Arbitrary values; any change replaces the resource, which waits again.",
				Optional: true,
				Default:  map[string]any{},
				ForceNew: true,
			},
			{
				Name:     "id",
				Kind:     spec.KindString,
				Doc:      "The UTC creation time in RFC 3339 format with nanoseconds.",
				Computed: true,
			},
		},
	}
}

func (sleep) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	dur, err := durationArg(req.Addr, req.Config)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	triggers, err := triggersArg(req.Addr, req.Config)
	if err != nil {
		return providers.PlanResponse{}, err
	}
	planned := map[string]any{"duration": dur, "triggers": triggers, "id": spec.Unknown{Source: req.Addr + ".id"}}
	if req.Prior == nil {
		return providers.PlanResponse{Planned: planned}, nil
	}
	prior, ok := req.Prior["triggers"].(map[string]any)
	if !ok {
		prior = map[string]any{}
	}
	if spec.HasUnknown(triggers) || !reflect.DeepEqual(triggers, prior) {
		return providers.PlanResponse{Planned: planned, RequiresReplace: []string{"triggers"}}, nil
	}
	// Same triggers: keep the object; a new duration is an in-place update.
	planned["id"] = req.Prior["id"]
	return providers.PlanResponse{Planned: planned}, nil
}

func (sleep) Apply(ctx context.Context, req providers.ApplyRequest) (providers.ApplyResponse, error) {
	switch req.Action {
	case providers.Create:
		d, err := knownDuration(req.Addr, req.Planned)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		triggers, err := triggersArg(req.Addr, req.Planned)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		if spec.HasUnknown(triggers) {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: triggers are still unknown at apply time; run plan again", req.Addr)
		}
		if err := wait(ctx, d); err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("create %s: sleep of %s interrupted: %w", req.Addr, d, err)
		}
		return providers.ApplyResponse{State: map[string]any{
			"duration": req.Planned["duration"],
			"triggers": triggers,
			"id":       time.Now().UTC().Format(time.RFC3339Nano),
		}}, nil
	case providers.Update:
		// Only the duration can change in place, and it matters only for
		// the next create or destroy: nothing to wait for now.
		if _, err := knownDuration(req.Addr, req.Planned); err != nil {
			return providers.ApplyResponse{}, err
		}
		st := spec.CloneMap(req.Prior)
		if st == nil {
			return providers.ApplyResponse{}, fmt.Errorf("update %s: no prior state to update; run plan again", req.Addr)
		}
		st["duration"] = req.Planned["duration"]
		return providers.ApplyResponse{State: st}, nil
	case providers.Delete:
		d, err := knownDuration(req.Addr, req.Prior)
		if err != nil {
			return providers.ApplyResponse{}, err
		}
		if err := wait(ctx, d); err != nil {
			return providers.ApplyResponse{}, fmt.Errorf("destroy %s: sleep of %s interrupted: %w", req.Addr, d, err)
		}
		return providers.ApplyResponse{}, nil
	default:
		return providers.ApplyResponse{}, fmt.Errorf("apply %s: unsupported action %q", req.Addr, req.Action)
	}
}

// Read returns the prior state: a sleep leaves nothing behind to observe.
func (sleep) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	return providers.ReadResponse{State: spec.CloneMap(req.Prior)}, nil
}

// wait sleeps for d, or until ctx is done; a ctx done already returns at
// once, whatever the timer.
func wait(ctx context.Context, d time.Duration) error {
	if err := ctx.Err(); err != nil || d <= 0 {
		return err
	}
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-timer.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// durationArg validates the "duration" argument and returns it as given
// (or the default when missing); an Unknown passes through unchecked.
func durationArg(addr string, args map[string]any) (any, error) {
	switch v := args["duration"].(type) {
	case nil:
		return DefaultDuration, nil
	case spec.Unknown:
		return v, nil
	case string:
		if _, err := parseDuration(addr, v); err != nil {
			return nil, err
		}
		return v, nil
	default:
		return nil, fmt.Errorf("%s: attribute \"duration\" must be a string such as \"30s\", got %s", addr, spec.Render(v))
	}
}

// knownDuration parses a duration that must be known by now.
func knownDuration(addr string, attrs map[string]any) (time.Duration, error) {
	v, err := durationArg(addr, attrs)
	if err != nil {
		return 0, err
	}
	s, ok := v.(string)
	if !ok {
		return 0, fmt.Errorf("%s: attribute \"duration\" is still unknown at apply time; run plan again", addr)
	}
	return parseDuration(addr, s)
}

func parseDuration(addr, s string) (time.Duration, error) {
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("%s: attribute \"duration\" = %q is not a duration; use a number with a unit, such as \"500ms\", \"30s\" or \"1m30s\"", addr, s)
	}
	if d < 0 {
		return 0, fmt.Errorf("%s: attribute \"duration\" = %q is negative; use a duration of zero or more", addr, s)
	}
	return d, nil
}

// triggersArg returns a copy of the "triggers" argument: a map, or an
// Unknown standing for the whole map; missing or null means empty.
func triggersArg(addr string, args map[string]any) (any, error) {
	switch v := args["triggers"].(type) {
	case nil:
		return map[string]any{}, nil
	case map[string]any:
		return spec.Clone(v), nil
	case spec.Unknown:
		return v, nil
	default:
		return nil, fmt.Errorf("%s: attribute \"triggers\" must be a dict, got %s", addr, spec.Render(v))
	}
}
