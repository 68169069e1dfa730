package null

import (
	"encoding/json"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/providertest"
)

func TestConformance(t *testing.T) {
	providertest.RunProvider(t, providertest.ProviderCase{
		New: func(*testing.T) providers.Provider { return Provider() },
		Types: map[string]providertest.Case{Type: {
			Create:  map[string]any{"triggers": map[string]any{"v": "1", "n": json.Number("2")}},
			Replace: map[string]any{"triggers": map[string]any{"v": "2"}},
		}},
	})
}

const addr = "null.resource.a"

func TestPlan(t *testing.T) {
	unknownID := spec.Unknown{Source: addr + ".id"}
	prior := map[string]any{"triggers": map[string]any{"v": "1"}, "id": "42"}
	tests := []struct {
		name        string
		prior       map[string]any
		config      map[string]any
		wantPlanned map[string]any
		wantReplace []string
	}{
		{
			name:        "create",
			config:      map[string]any{"triggers": map[string]any{"v": "1"}},
			wantPlanned: map[string]any{"triggers": map[string]any{"v": "1"}, "id": unknownID},
		},
		{
			name:        "create without triggers",
			config:      map[string]any{},
			wantPlanned: map[string]any{"triggers": map[string]any{}, "id": unknownID},
		},
		{
			name:        "unchanged",
			prior:       prior,
			config:      map[string]any{"triggers": map[string]any{"v": "1"}},
			wantPlanned: prior,
		},
		{
			name:        "trigger value changed",
			prior:       prior,
			config:      map[string]any{"triggers": map[string]any{"v": "2"}},
			wantPlanned: map[string]any{"triggers": map[string]any{"v": "2"}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
		{
			name:        "trigger added",
			prior:       prior,
			config:      map[string]any{"triggers": map[string]any{"v": "1", "w": true}},
			wantPlanned: map[string]any{"triggers": map[string]any{"v": "1", "w": true}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
		{
			name:        "unknown trigger value counts as a change",
			prior:       prior,
			config:      map[string]any{"triggers": map[string]any{"v": spec.Unknown{Source: "null.resource.b.id"}}},
			wantPlanned: map[string]any{"triggers": map[string]any{"v": spec.Unknown{Source: "null.resource.b.id"}}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
		{
			name:        "whole triggers map unknown",
			prior:       prior,
			config:      map[string]any{"triggers": spec.Unknown{Source: "null.resource.b.triggers"}},
			wantPlanned: map[string]any{"triggers": spec.Unknown{Source: "null.resource.b.triggers"}, "id": unknownID},
			wantReplace: []string{"triggers"},
		},
		{
			name:        "number triggers compare as json.Number",
			prior:       map[string]any{"triggers": map[string]any{"n": json.Number("1")}, "id": "7"},
			config:      map[string]any{"triggers": map[string]any{"n": json.Number("1")}},
			wantPlanned: map[string]any{"triggers": map[string]any{"n": json.Number("1")}, "id": "7"},
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

func TestPlanRejectsNonMapTriggers(t *testing.T) {
	_, err := New().Plan(t.Context(), providers.PlanRequest{Addr: addr, Config: map[string]any{"triggers": "x"}})
	if err == nil || !strings.Contains(err.Error(), `null.resource.a: attribute "triggers" must be a dict`) {
		t.Errorf("Plan with triggers=\"x\": error %v, want one naming the attribute", err)
	}
}

func TestCreateGivesDecimalIDs(t *testing.T) {
	r := New()
	seen := map[string]bool{}
	for range 5 {
		resp, err := r.Apply(t.Context(), providers.ApplyRequest{
			Addr: addr, Action: providers.Create,
			Planned: map[string]any{"triggers": map[string]any{}, "id": spec.Unknown{}},
		})
		if err != nil {
			t.Fatal(err)
		}
		id, _ := resp.State["id"].(string)
		if _, err := strconv.ParseUint(id, 10, 64); err != nil {
			t.Errorf("id %q is not a decimal number", id)
		}
		seen[id] = true
	}
	if len(seen) != 5 {
		t.Errorf("5 creates gave %d distinct ids", len(seen))
	}
}

func TestCreateRefusesUnknownTriggers(t *testing.T) {
	_, err := New().Apply(t.Context(), providers.ApplyRequest{
		Addr: addr, Action: providers.Create,
		Planned: map[string]any{"triggers": map[string]any{"v": spec.Unknown{}}, "id": spec.Unknown{}},
	})
	if err == nil || !strings.Contains(err.Error(), "still unknown") {
		t.Errorf("create with unknown triggers: error %v, want 'still unknown'", err)
	}
}
