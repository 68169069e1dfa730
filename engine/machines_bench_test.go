package engine_test

import (
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
)

// Benchmarks of deploying machines to test hosts (testdata/machines/
// bench.star), with the real Nix and ferry's own SSH; evaluation alone is
// benchmarked in providers/nix (BenchmarkEvaluate*).
//
//	go test ./engine -run '^$' -bench Hosts -benchtime 3x

// hostNames are h1..hN, the machines of bench.star.
func hostNames(n int) []string {
	out := make([]string, n)
	for i := range out {
		out[i] = "h" + strconv.Itoa(i+1)
	}
	return out
}

// newBenchFleet is a machineEnv on bench.star with n hosts.
func newBenchFleet(b *testing.B, n int, nonce string) *machineEnv {
	b.Helper()
	m := newMachineEnv(b, hostNames(n)...)
	m.file = "bench.star"
	m.vars["n"] = strconv.Itoa(n)
	m.vars["nonce"] = nonce
	return m
}

// eventDuration is the Duration of the first progress event whose message
// starts with prefix.
func eventDuration(b *testing.B, evs []engine.Event, prefix string) time.Duration {
	b.Helper()
	for _, ev := range evs {
		if ev.Kind == engine.EventProgress && ev.Addr == "" && strings.HasPrefix(ev.Message, prefix) {
			return ev.Duration
		}
	}
	b.Fatalf("no progress event %q", prefix)
	return 0
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

// BenchmarkNoChange20Hosts measures what `ferry plan --out plan.json`
// (refresh on: one connection per host reads its current system and
// profile) and `ferry apply plan.json` cost when the 20 hosts already run
// their systems. Metrics: plan-ms (of which eval-ms is the one Nix
// evaluation pass and plan-minus-eval-ms the rest: state, SSH, diffs, plan
// file) and apply-ms; ns/op is both.
func BenchmarkNoChange20Hosts(b *testing.B) {
	const n = 20
	m := newBenchFleet(b, n, "nochange")
	m.applyOK(m.plan(engine.PlanOptions{}))
	var planTime, evalTime, applyTime time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		m.takeEvents()
		start := time.Now()
		p := m.plan(engine.PlanOptions{})
		planned := time.Now()
		res := m.applyOK(p)
		applyTime += time.Since(planned)
		planTime += planned.Sub(start)
		evalTime += eventDuration(b, m.takeEvents(), "evaluated ")
		if c := p.Count(); c.Deploy != 0 || c.Unchanged != n || res.Deployed != 0 {
			b.Fatalf("plan deploys %d, leaves %d unchanged; apply deployed %d: want nothing to do on %d hosts", c.Deploy, c.Unchanged, res.Deployed, n)
		}
	}
	b.StopTimer()
	per := func(d time.Duration) float64 { return ms(d) / float64(b.N) }
	b.ReportMetric(per(planTime), "plan-ms/op")
	b.ReportMetric(per(evalTime), "eval-ms/op")
	b.ReportMetric(per(planTime-evalTime), "plan-minus-eval-ms/op")
	b.ReportMetric(per(applyTime), "apply-ms/op")
}

// BenchmarkFromScratch10Hosts measures the apply of a plan that deploys 10
// new systems to 10 empty hosts (a fresh fleet and a new nonce, so a new
// build, per iteration; planning is not timed). ns/op is apply's wall
// time. Metrics: build-ms (the one nix-store --realise), slowest-host-ms
// (the largest copy plus activation time of one host, without waiting for
// connections or limits) and apply/(build+slowest), which is 1 when the
// hosts cost no more than the slowest of them alone.
func BenchmarkFromScratch10Hosts(b *testing.B) {
	const n = 10
	var applyTime, buildTime, slowest time.Duration
	nonce := time.Now().UnixNano() // systems never built before, even by earlier runs
	b.StopTimer()
	for i := 0; i < b.N; i++ {
		m := newBenchFleet(b, n, fmt.Sprintf("%d-%d", nonce, i))
		p := m.plan(engine.PlanOptions{})
		if c := p.Count(); c.Deploy != n {
			b.Fatalf("plan deploys %d machines, want %d", c.Deploy, n)
		}
		m.takeEvents()
		b.StartTimer()
		start := time.Now()
		res := m.applyOK(p)
		applyTime += time.Since(start)
		b.StopTimer()
		if res.Deployed != n {
			b.Fatalf("deployed %d machines, want %d", res.Deployed, n)
		}
		evs := m.takeEvents()
		buildTime += eventDuration(b, evs, "built ")
		slowest += slowestHost(b, p, evs)
		if err := m.fleet.Stop(); err != nil {
			b.Fatal(err)
		}
	}
	per := func(d time.Duration) float64 { return ms(d) / float64(b.N) }
	b.ReportMetric(per(buildTime), "build-ms/op")
	b.ReportMetric(per(slowest), "slowest-host-ms/op")
	b.ReportMetric(float64(applyTime)/float64(buildTime+slowest), "apply/(build+slowest)")
}

// slowestHost is the largest copy plus activation time among the plan's
// machines: the copy as its "copied" event times it, the activation from
// its "activating" event to its done event.
func slowestHost(b *testing.B, p *plan.Plan, evs []engine.Event) time.Duration {
	b.Helper()
	type times struct {
		copy               time.Duration
		activating, done   time.Time
		sawCopy, sawActive bool
	}
	by := map[string]*times{}
	for _, pm := range p.Machines {
		by[pm.Addr] = &times{}
	}
	for _, ev := range evs {
		t := by[ev.Addr]
		if t == nil {
			continue
		}
		switch {
		case ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "copied "):
			t.copy, t.sawCopy = ev.Duration, true
		case ev.Kind == engine.EventProgress && strings.HasPrefix(ev.Message, "activating "):
			t.activating, t.sawActive = ev.Time, true
		case ev.Kind == engine.EventDone:
			t.done = ev.Time
		}
	}
	var worst time.Duration
	for addr, t := range by {
		if !t.sawCopy || !t.sawActive || t.done.IsZero() {
			b.Fatalf("%s: missing copied, activating or done event", addr)
		}
		worst = max(worst, t.copy+t.done.Sub(t.activating))
	}
	return worst
}

// BenchmarkPlanHosts measures what reading the hosts adds to a plan: at 10
// and 100 hosts that already run their systems, `ferry plan` reads every
// host (one connection and one round trip each) while Nix evaluates.
// Metrics: eval-ms (the evaluation pass), plan-minus-eval-ms (everything
// else: state, the host reads that outlast evaluation, diffs, the plan
// file) and, for comparison, norefresh-minus-eval-ms (the same plan with
// --refresh=false, which reads no host). Targets: plan-minus-eval ≤ 100 ms
// at 10 hosts, ≤ 300 ms at 100.
//
//	go test ./engine -run '^$' -bench PlanHosts -benchtime 5x
func BenchmarkPlanHosts(b *testing.B) {
	for _, n := range []int{10, 100} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			m := newBenchFleet(b, n, "planhosts")
			m.applyOK(m.plan(engine.PlanOptions{}))
			var planTime, evalTime, noRefresh, noRefreshEval time.Duration
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				m.takeEvents()
				start := time.Now()
				p := m.plan(engine.PlanOptions{})
				planTime += time.Since(start)
				evalTime += eventDuration(b, m.takeEvents(), "evaluated ")
				if c := p.Count(); c.Deploy != 0 || c.Unchanged != n {
					b.Fatalf("plan deploys %d, leaves %d unchanged: want nothing to do on %d hosts", c.Deploy, c.Unchanged, n)
				}
				b.StopTimer()
				start = time.Now()
				m.plan(engine.PlanOptions{NoRefresh: true})
				noRefresh += time.Since(start)
				noRefreshEval += eventDuration(b, m.takeEvents(), "evaluated ")
				b.StartTimer()
			}
			b.StopTimer()
			per := func(d time.Duration) float64 { return ms(d) / float64(b.N) }
			b.ReportMetric(per(evalTime), "eval-ms/op")
			b.ReportMetric(per(planTime-evalTime), "plan-minus-eval-ms/op")
			b.ReportMetric(per(noRefresh-noRefreshEval), "norefresh-minus-eval-ms/op")
		})
	}
}
