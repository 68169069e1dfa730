package engine_test

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers"
)

// TestLimitsTable: every named limit has a name, what it bounds and a
// sane default; the ones a flag sets are kong variables (the CLI's
// defaults and help) and refuse values below their minimum, saying what
// the flag means.
func TestLimitsTable(t *testing.T) {
	vars := engine.LimitVars()
	seen := map[string]bool{}
	for _, l := range engine.Limits() {
		key := l.Var
		if key == "" {
			key = strings.ReplaceAll(l.Name, "-", "_")
		}
		if seen[key] {
			t.Errorf("limit %s: key %q twice", l.Name, key)
		}
		seen[key] = true
		if l.Name == "" || l.Unit == "" || l.Help == "" {
			t.Errorf("limit %+v: no name, unit or help", l)
		}
		if l.Default < l.Min {
			t.Errorf("limit %s: default %d below its minimum %d", l.Name, l.Default, l.Min)
		}
		if !l.Flag {
			if _, ok := vars[key+"_default"]; ok {
				t.Errorf("limit %s has no flag but a kong variable", l.Name)
			}
			continue
		}
		if len(l.Commands) == 0 {
			t.Errorf("flag limit %s: no command takes it", l.Name)
		}
		if vars[key+"_default"] != strconv.Itoa(l.Default) || vars[key+"_help"] != l.Help {
			t.Errorf("limit %s: kong variables %q, %q", l.Name, vars[key+"_default"], vars[key+"_help"])
		}
		if err := l.Check(l.Min); err != nil {
			t.Errorf("limit %s refuses its minimum: %v", l.Name, err)
		}
		want := fmt.Sprintf("--%s %d: give at least %d (%s)", l.Name, l.Min-1, l.Min, l.Unit)
		if err := l.Check(l.Min - 1); err == nil || err.Error() != want {
			t.Errorf("limit %s below its minimum: %v, want %q", l.Name, err, want)
		}
		if l.Or(0) != l.Default || l.Or(3) != 3 {
			t.Errorf("limit %s: Or(0) = %d, Or(3) = %d", l.Name, l.Or(0), l.Or(3))
		}
	}
	// The message the CLI's tests expect (parallelism.txtar).
	if err := engine.LimitParallelism.Check(0); err == nil || err.Error() != "--parallelism 0: give at least 1 (operations running at once)" {
		t.Errorf("--parallelism 0: %v", err)
	}
	for _, cmd := range []string{"plan", "apply"} {
		help := engine.LimitsHelp(cmd)
		for _, l := range engine.Limits() {
			own := l.Flag && slices.Contains(l.Commands, cmd)
			day2 := l.Flag && !slices.Contains(l.Commands, "plan") && !slices.Contains(l.Commands, "apply")
			if own || day2 {
				continue // shown as this command's flags, or not plan's and apply's
			}
			if !strings.Contains(help, l.Name+" (") {
				t.Errorf("%s --help does not name %s with its default:\n%s", cmd, l.Name, help)
			}
		}
	}
}

// slowReader is a resource type whose Read takes a while and counts the
// reads in progress, to measure refresh's concurrency.
type slowReader struct {
	typ string

	mu             *sync.Mutex
	inFlight, most *int
}

func (s *slowReader) Schema() spec.Schema {
	return spec.Schema{Type: s.typ, Attrs: []spec.Attr{{Name: "value", Kind: spec.KindString, Required: true}}}
}

func (s *slowReader) Plan(_ context.Context, req providers.PlanRequest) (providers.PlanResponse, error) {
	return providers.PlanResponse{Planned: map[string]any{"value": req.Config["value"]}}, nil
}

func (s *slowReader) Apply(context.Context, providers.ApplyRequest) (providers.ApplyResponse, error) {
	return providers.ApplyResponse{}, fmt.Errorf("not applied in this test")
}

func (s *slowReader) Read(_ context.Context, req providers.ReadRequest) (providers.ReadResponse, error) {
	s.mu.Lock()
	*s.inFlight++
	*s.most = max(*s.most, *s.inFlight)
	s.mu.Unlock()
	time.Sleep(20 * time.Millisecond)
	s.mu.Lock()
	*s.inFlight--
	s.mu.Unlock()
	return providers.ReadResponse{State: req.Prior}, nil
}

// TestRefreshHoldsParallelism: --parallelism bounds the provider reads of
// refresh across every batch (two types here, read one object at a time),
// not per batch.
func TestRefreshHoldsParallelism(t *testing.T) {
	var mu sync.Mutex
	var inFlight, most int
	types := []providers.Resource{
		&slowReader{typ: "slow.a", mu: &mu, inFlight: &inFlight, most: &most},
		&slowReader{typ: "slow.b", mu: &mu, inFlight: &inFlight, most: &most},
	}
	reg, err := providers.NewRegistry(&providers.Static{Namespace: "slow", Types: types})
	if err != nil {
		t.Fatal(err)
	}
	cfg := &spec.Config{Dir: t.TempDir()}
	st := &state.State{FormatVersion: state.FormatVersion, Deployment: testDeployment, Lineage: "l", Resources: map[string]*state.Resource{}}
	for _, typ := range []string{"slow.a", "slow.b"} {
		for i := range 12 {
			addr := fmt.Sprintf("%s.r%d", typ, i)
			cfg.Resources = append(cfg.Resources, &spec.Resource{Addr: addr, Type: typ, Name: fmt.Sprintf("r%d", i), Args: map[string]any{"value": "v"}})
			st.Resources[addr] = &state.Resource{Type: typ, Attrs: map[string]any{"value": "v"}}
		}
	}
	eng := &engine.Engine{Providers: reg, Version: "test"}
	for _, tt := range []struct{ parallelism, want int }{{3, 3}, {1, 1}, {0, engine.LimitParallelism.Default}} {
		most = 0
		p, err := eng.BuildPlan(t.Context(), cfg, st, engine.PlanOptions{Deployment: testDeployment, Parallelism: tt.parallelism})
		if err != nil {
			t.Fatal(err)
		}
		if p.HasChanges() {
			t.Fatalf("--parallelism %d: a plan of unchanged objects has changes: %+v", tt.parallelism, p.Count())
		}
		if most > tt.want || most < min(2, tt.want) {
			t.Errorf("--parallelism %d: %d reads at once, want at most %d (and more than one when allowed)", tt.parallelism, most, tt.want)
		}
	}
}
