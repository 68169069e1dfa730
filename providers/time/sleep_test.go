package timeprovider

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New: func(*testing.T) providers.Provider { return Provider() },
		Types: map[string]providertest.Case{Type: {
			Create:  map[string]any{"duration": "1ms", "triggers": map[string]any{"v": "1"}},
			Update:  map[string]any{"duration": "2ms"},
			Replace: map[string]any{"triggers": map[string]any{"v": "2"}},
			Slow:    map[string]any{"duration": "1h"},
		}},
	})
}

const addr = "time.sleep.settle"

func TestPlan(t *testing.T) {
	unknownID := spec.Unknown{Source: addr + ".id"}
	prior := map[string]any{"duration": "1s", "triggers": map[string]any{"v": "1"}, "id": "2026-01-02T03:04:05.000000006Z"}
	tests := []struct {
		name        string
		prior       map[string]any
		config      map[string]any
		wantPlanned map[string]any
		wantReplace []string
	}{
		{
			name:        "create with defaults",
			config:      map[string]any{},
			wantPlanned: map[string]any{"duration": "50ms", "triggers": map[string]any{}, "id": unknownID},
		},
		{
			name:        "create with unknown duration",
			config:      map[string]any{"duration": spec.Unknown{Source: "x.y.z.d"}},
			wantPlanned: map[string]any{"duration": spec.Unknown{Source: "x.y.z.d"}, "triggers": map[string]any{}, "id": unknownID},
		},
		{
			name:        "unchanged",
			prior:       prior,
			config:      map[string]any{"duration": "1s", "triggers": map[string]any{"v": "1"}},
			wantPlanned: prior,
		},
		{
			name:        "duration change alone is in place",
			prior:       prior,
			config:      map[string]any{"duration": "2m", "triggers": map[string]any{"v": "1"}},
			wantPlanned: map[string]any{"duration": "2m", "triggers": map[string]any{"v": "1"}, "id": prior["id"]},
		},
		{
			name:        "trigger change replaces",
			prior:       prior,
			config:      map[string]any{"duration": "1s", "triggers": map[string]any{"v": "2"}},
			wantPlanned: map[string]any{"duration": "1s", "triggers": map[string]any{"v": "2"}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
		{
			name:        "unknown trigger replaces",
			prior:       prior,
			config:      map[string]any{"duration": "1s", "triggers": map[string]any{"v": spec.Unknown{}}},
			wantPlanned: map[string]any{"duration": "1s", "triggers": map[string]any{"v": spec.Unknown{}}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			resp, err := New().Plan(t.Context(), providers.PlanRequest{Addr: addr, Prior: tt.prior, Config: tt.config})
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.wantPlanned, resp.Planned); diff != "" {
				t.Errorf("planned (-want +got):\n%s", diff)
			}
			if diff := cmp.Diff(tt.wantReplace, resp.RequiresReplace); diff != "" {
				t.Errorf("requires replace (-want +got):\n%s", diff)
			}
		})
	}
}

func TestPlanRejectsBadDurations(t *testing.T) {
	tests := []struct {
		duration any
		want     string
	}{
		{"soon", `time.sleep.settle: attribute "duration" = "soon" is not a duration`},
		{"10", `time.sleep.settle: attribute "duration" = "10" is not a duration`},
		{"-1s", `time.sleep.settle: attribute "duration" = "-1s" is negative`},
		{spec.Number(5), `time.sleep.settle: attribute "duration" must be a string such as "30s", got 5`},
	}
	for _, tt := range tests {
		t.Run(spec.Render(tt.duration), func(t *testing.T) {
			_, err := New().Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: map[string]any{"duration": tt.duration}})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Plan error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestCreateSleepsAndRecordsTime(t *testing.T) {
	before := time.Now()
	resp, err := New().Apply(t.Context(), providers.ApplyRequest{
		Addr: addr, Action: providers.Create,
		Planned: map[string]any{"duration": "40ms", "triggers": map[string]any{}, "id": spec.Unknown{}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(before); elapsed < 40*time.Millisecond {
		t.Errorf("create returned after %s, want at least 40ms", elapsed)
	}
	id, _ := resp.State["id"].(string)
	created, err := time.Parse(time.RFC3339Nano, id)
	if err != nil {
		t.Fatalf("id %q is not an RFC 3339 time: %v", id, err)
	}
	if !strings.HasSuffix(id, "Z") {
		t.Errorf("id %q is not in UTC", id)
	}
	if created.Before(before.Add(40*time.Millisecond).Truncate(time.Microsecond)) || created.After(time.Now()) {
		t.Errorf("id %s is not the time the sleep ended (started %s)", created, before.UTC())
	}
}

func TestUpdateDoesNotSleep(t *testing.T) {
	prior := map[string]any{"duration": "1ms", "triggers": map[string]any{}, "id": "2026-01-02T03:04:05Z"}
	start := time.Now()
	resp, err := New().Apply(t.Context(), providers.ApplyRequest{
		Addr: addr, Action: providers.Update, Prior: prior,
		Planned: map[string]any{"duration": "1h", "triggers": map[string]any{}, "id": prior["id"]},
	})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed > time.Second {
		t.Errorf("update of the duration took %s, want no sleep", elapsed)
	}
	want := map[string]any{"duration": "1h", "triggers": map[string]any{}, "id": prior["id"]}
	if diff := cmp.Diff(want, resp.State); diff != "" {
		t.Errorf("state (-want +got):\n%s", diff)
	}
}

func TestDeleteSleeps(t *testing.T) {
	start := time.Now()
	_, err := New().Apply(t.Context(), providers.ApplyRequest{
		Addr: addr, Action: providers.Delete,
		Prior: map[string]any{"duration": "30ms", "triggers": map[string]any{}, "id": "x"},
	})
	if err != nil {
		t.Fatal(err)
	}
	if elapsed := time.Since(start); elapsed < 30*time.Millisecond {
		t.Errorf("delete returned after %s, want at least 30ms", elapsed)
	}
}

func TestCancellationInterruptsSleep(t *testing.T) {
	for _, action := range []providers.Action{providers.Create, providers.Delete} {
		t.Run(string(action), func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
			defer cancel()
			attrs := map[string]any{"duration": "1h", "triggers": map[string]any{}, "id": spec.Unknown{}}
			start := time.Now()
			_, err := New().Apply(ctx, providers.ApplyRequest{Addr: addr, Action: action, Prior: attrs, Planned: attrs})
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error = %v, want context.DeadlineExceeded", err)
			}
			if err != nil && !strings.Contains(err.Error(), addr) {
				t.Errorf("error %q does not name the resource", err)
			}
			if elapsed := time.Since(start); elapsed > 5*time.Second {
				t.Errorf("cancelled sleep took %s", elapsed)
			}
		})
	}
}
