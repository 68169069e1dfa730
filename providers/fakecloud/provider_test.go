package fakecloud

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers"
)

func TestConfigureRefusesBadArguments(t *testing.T) {
	tests := []struct {
		name   string
		alias  string
		config map[string]any
		want   string
	}{
		{"no region", "", map[string]any{}, `configure fake.provider: missing required argument "region"; give fake.provider(region = "...")`},
		{"no region, aliased", "eu", map[string]any{}, `configure fake.provider(alias = "eu"): missing required argument "region"`},
		{"unknown argument", "", map[string]any{"region": "r", "zone": "a"}, `unknown argument "zone"; it takes region, dir, limit, page_size, idempotent_tokens, latency, faults`},
		{"negative limit", "", map[string]any{"region": "r", "limit": spec.Number(-1)}, `argument "limit" = -1: want a whole number from 0`},
		{"fractional limit", "", map[string]any{"region": "r", "limit": spec.Float(1.5)}, `argument "limit" = 1.5 is not a whole number`},
		{"zero page", "", map[string]any{"region": "r", "page_size": spec.Number(0)}, `argument "page_size" = 0: want a whole number from 1`},
		{"bad latency", "", map[string]any{"region": "r", "latency": "soon"}, `argument "latency" = "soon" is not a duration`},
		{"fault of no call", "", map[string]any{"region": "r", "faults": map[string]any{"fake.thing.craete": "fail"}}, `argument "faults": no call "fake.thing.craete"; calls are fake.flaky.create,`},
		{"bad fault mode", "", map[string]any{"region": "r", "faults": map[string]any{"fake.thing.create": "explode"}}, `fault "explode": unknown mode "explode"; use fail, fail-after, hang or hang-after`},
		{"zero fault count", "", map[string]any{"region": "r", "faults": map[string]any{"fake.thing.create": "fail 0"}}, `count 0 must be positive`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := New().Configure(t.Context(), providers.ConfigureRequest{Alias: tt.alias, Config: tt.config})
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Configure error = %v, want it to contain %q", err, tt.want)
			}
		})
	}
}

func TestConfigurationsShareTheRegionsObjects(t *testing.T) {
	p := New()
	planning := configure(t, p, "", nil)
	st := mustCreate(t, planning, ThingType, "fake.thing.a", "tok", map[string]any{"value": "v"})

	// A later Configure (the apply after the plan) sees the object; so
	// does another alias of the same region, but not another region.
	if got := read(t, configure(t, p, "", nil), ThingType, st); got == nil {
		t.Error("a second configuration of region r1 does not see the object")
	}
	if got := read(t, configure(t, p, "other", nil), ThingType, st); got == nil {
		t.Error("another alias of region r1 does not see the object")
	}
	if got := read(t, configure(t, p, "eu", map[string]any{"region": "r2"}), ThingType, st); got != nil {
		t.Errorf("region r2 sees region r1's object: %v", got)
	}
	if got := read(t, configure(t, New(), "", nil), ThingType, st); got != nil {
		t.Errorf("another Provider (account) sees the object: %v", got)
	}
	if want := "arn:fake:r1:thing/" + st["id"].(string); st["arn"] != want {
		t.Errorf("arn = %v, want %s", st["arn"], want)
	}
}

func TestLimitAndStatsPerConfiguration(t *testing.T) {
	p := New()
	a := configure(t, p, "", map[string]any{"limit": spec.Number(3)})
	b := configure(t, p, "b", nil)
	if a.Limit() != 3 || b.Limit() != 0 {
		t.Errorf("limits %d and %d, want 3 and 0", a.Limit(), b.Limit())
	}
	st := mustCreate(t, a, ThingType, "fake.thing.a", "t1", map[string]any{"value": "v"})
	read(t, a, ThingType, st)
	read(t, b, ThingType, st)
	want := map[string]int{"fake.thing.create": 1, "fake.thing.get": 1}
	if diff := cmp.Diff(want, p.Stats("").Calls); diff != "" {
		t.Errorf("default configuration's calls (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff(map[string]int{"fake.thing.get": 1}, p.Stats("b").Calls); diff != "" {
		t.Errorf("alias b's calls (-want +got):\n%s", diff)
	}
	if got, err := StatsOf(resource(a, ThingType)); err != nil || got.Total() != 2 {
		t.Errorf("StatsOf a checked fake.thing: %v, %v; want 2 calls", got, err)
	}
	if _, err := StatsOf(nil); err == nil {
		t.Error("StatsOf(nil) gave no error")
	}
}

func TestReadManyReadsPages(t *testing.T) {
	c := configure(t, New(), "", map[string]any{"page_size": spec.Number(100)})
	var reqs []providers.ReadRequest
	for i := range 250 {
		st := mustCreate(t, c, ThingType, "fake.thing.a", "", map[string]any{"value": "v"})
		if i == 7 {
			if err := c.Store().Remove(ThingType, st["id"].(string)); err != nil {
				t.Fatal(err)
			}
		}
		reqs = append(reqs, providers.ReadRequest{Addr: "fake.thing.a", Prior: st})
	}
	before := c.Stats().Calls["fake.thing.describe"]
	resps, err := resource(c, ThingType).(providers.BatchReader).ReadMany(t.Context(), reqs)
	if err != nil {
		t.Fatal(err)
	}
	if calls := c.Stats().Calls["fake.thing.describe"] - before; calls != 3 {
		t.Errorf("ReadMany of 250 made %d describe calls, want 3", calls)
	}
	for i, resp := range resps {
		if (resp.State == nil) != (i == 7) {
			t.Errorf("response %d: %v", i, resp.State)
		}
	}
}

func TestObjectsChangeBehindFerrysBack(t *testing.T) {
	p := New()
	c := configure(t, p, "", nil)
	st := mustCreate(t, c, ThingType, "fake.thing.a", "tok", map[string]any{"value": "v"})
	store := p.Memory("r1")
	o, ok, err := store.Get(ThingType, st["id"].(string))
	if err != nil || !ok || o.Token != "tok" {
		t.Fatalf("Get: %+v %v %v, want the object with its token", o, ok, err)
	}
	o.Attrs["value"] = "edited"
	if err := store.Put(o); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c, ThingType, st)["value"]; got != "edited" {
		t.Errorf("value after an edit outside ferry: %v", got)
	}
	if err := store.Remove(ThingType, o.ID); err != nil {
		t.Fatal(err)
	}
	if got := read(t, c, ThingType, st); got != nil {
		t.Errorf("read after a removal outside ferry: %v", got)
	}
	_, err = resource(c, ThingType).Apply(t.Context(), providers.ApplyRequest{Addr: "fake.thing.a", Action: providers.Update, Prior: st, Planned: st})
	if err == nil || !strings.Contains(err.Error(), "update fake.thing.a: fake.thing "+o.ID+" no longer exists (deleted outside ferry?); run ferry plan again") {
		t.Errorf("update of a removed object: %v", err)
	}
}

func TestUpgradeRefusesNewerVersions(t *testing.T) {
	c := configure(t, New(), "", nil)
	u := resource(c, ThingType).(providers.StateUpgrader)
	_, err := u.UpgradeState(t.Context(), providers.UpgradeRequest{Addr: "fake.thing.a", Version: 3, State: map[string]any{"id": "x"}})
	if err == nil || !strings.Contains(err.Error(), "upgrade fake.thing.a: its state was written by version 3 of the fake.thing schema, which this ferry does not know (it knows up to 2)") {
		t.Errorf("upgrade from version 3: %v", err)
	}
}

func TestTokensWithoutIdempotence(t *testing.T) {
	c := configure(t, New(), "", map[string]any{"idempotent_tokens": false})
	first := mustCreate(t, c, ThingType, "fake.thing.a", "tok", map[string]any{"value": "v"})
	second := mustCreate(t, c, ThingType, "fake.thing.a", "tok", map[string]any{"value": "v"})
	if first["id"] == second["id"] {
		t.Fatalf("with idempotent_tokens = False, a retried create returned the first object %v", first["id"])
	}
	resp, err := resource(c, ThingType).(providers.Adopter).Adopt(t.Context(), providers.AdoptRequest{Addr: "fake.thing.a", Token: "tok"})
	if err != nil || resp.State["id"] != first["id"] {
		t.Errorf("Adopt: %v, %v; want the first object %v", resp.State, err, first["id"])
	}
}

func TestSensitiveValuesStayOutOfErrors(t *testing.T) {
	c := configure(t, New(), "", nil)
	_, err := resource(c, ThingType).Plan(t.Context(), providers.PlanRequest{Addr: "fake.thing.a", Config: map[string]any{"value": "v", "secret": spec.Number(123456789)}})
	if err == nil || !strings.Contains(err.Error(), `argument "secret" must be a string, got a number`) || strings.Contains(err.Error(), "123456789") {
		t.Errorf("plan with a number secret: %v", err)
	}
}
