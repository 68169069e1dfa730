package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"
)

// The machine table: the speed targets of the machines issue, measured by
// Go benchmarks (providers/nix BenchmarkEvaluate, engine
// BenchmarkNoChange20Hosts, BenchmarkFromScratch10Hosts and
// BenchmarkPlanHosts).

const modulePath = "github.com/nixferry/ferry"

// machinePart is one benchmark of the machine table and the rows it gives.
type machinePart struct {
	name      string // for -only
	pkg       string // relative to the repository root
	bench     string // top-level benchmark name
	benchtime string
	rows      func(b benchResults) ([]machineRow, error)
}

type machineRow struct {
	shape, n, measure, value, detail string
	ok                               bool
	target                           string // "" for no target
}

var machineParts = []machinePart{
	{name: "machines/evaluate", pkg: "./providers/nix", bench: "BenchmarkEvaluate", benchtime: "10x", rows: evaluateRows},
	{name: "machines/no-change", pkg: "./engine", bench: "BenchmarkNoChange20Hosts", benchtime: "5x", rows: noChangeRows},
	{name: "machines/from-scratch", pkg: "./engine", bench: "BenchmarkFromScratch10Hosts", benchtime: "5x", rows: fromScratchRows},
	{name: "machines/plan-hosts", pkg: "./engine", bench: "BenchmarkPlanHosts", benchtime: "3x", rows: planHostsRows},
	{name: "providers/refresh", pkg: "./engine", bench: "BenchmarkRefresh5000", benchtime: "5x", rows: refreshRows},
}

// runMachines runs the parts' benchmarks (one go test per package and
// benchtime) and prints the machine table; false if a target was missed.
func runMachines(ferryBin string, parts []machinePart) (bool, error) {
	root, err := repoRoot(ferryBin)
	if err != nil {
		return false, err
	}
	type run struct {
		pkg, benchtime string
		benches        []string
	}
	var runs []*run
	for _, p := range parts {
		var r *run
		for _, have := range runs {
			if have.pkg == p.pkg && have.benchtime == p.benchtime {
				r = have
			}
		}
		if r == nil {
			r = &run{pkg: p.pkg, benchtime: p.benchtime}
			runs = append(runs, r)
		}
		r.benches = append(r.benches, strings.TrimPrefix(p.bench, "Benchmark"))
	}
	results := benchResults{}
	for _, r := range runs {
		pattern := "^Benchmark(" + strings.Join(r.benches, "|") + ")$"
		got, err := goBench(root, r.pkg, pattern, r.benchtime)
		if err != nil {
			return false, err
		}
		for k, v := range got {
			results[k] = v
		}
	}
	var rows []machineRow
	for _, p := range parts {
		rs, err := p.rows(results)
		if err != nil {
			return false, fmt.Errorf("%s (%s %s): %w", p.name, p.pkg, p.bench, err)
		}
		rows = append(rows, rs...)
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "machines\tn\tmeasure\tvalue\tdetail\ttarget\t")
	allOK := true
	for _, r := range rows {
		verdict := "-"
		if r.target != "" {
			verdict = "ok " + r.target
			if !r.ok {
				verdict = "MISSED " + r.target
				allOK = false
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t\n", r.shape, r.n, r.measure, r.value, r.detail, verdict)
	}
	tw.Flush()
	return allOK, nil
}

// repoRoot is the directory of ferry's go.mod: the working directory or
// one of its parents, else the -ferry binary's directory or one of its
// parents (bin/ferry lives in the root's bin/).
func repoRoot(ferryBin string) (string, error) {
	var starts []string
	if wd, err := os.Getwd(); err == nil {
		starts = append(starts, wd)
	}
	if ferryBin != "" {
		starts = append(starts, filepath.Dir(ferryBin))
	}
	for _, dir := range starts {
		for {
			if isFerryModule(filepath.Join(dir, "go.mod")) {
				return dir, nil
			}
			parent := filepath.Dir(dir)
			if parent == dir {
				break
			}
			dir = parent
		}
	}
	return "", fmt.Errorf("no go.mod of %s above the working directory or the -ferry binary (run from the repository)", modulePath)
}

var moduleRe = regexp.MustCompile(`(?m)^module\s+"?([^\s"]+)"?\s*$`)

func isFerryModule(gomod string) bool {
	data, err := os.ReadFile(gomod)
	if err != nil {
		return false
	}
	m := moduleRe.FindSubmatch(data)
	return m != nil && string(m[1]) == modulePath
}

// benchResult is one benchmark result line.
type benchResult struct {
	name    string // without the -GOMAXPROCS suffix
	iters   int
	nsPerOp float64
	metrics map[string]float64 // by unit
}

// benchResults are keyed by name without the -GOMAXPROCS suffix.
type benchResults map[string]benchResult

// goBench runs go test's benchmarks matching pattern in pkg and parses
// their result lines. A failing go test, or one that gives no result
// line, is an error carrying its output.
func goBench(root, pkg, pattern, benchtime string) (benchResults, error) {
	args := []string{"test", "-run", "^$", "-bench", pattern, "-benchtime", benchtime, "-count", "1", pkg}
	fmt.Fprintf(os.Stderr, "ferry-bench: go %s\n", strings.Join(quoteArgs(args), " "))
	cmd := exec.Command("go", args...)
	cmd.Dir = root
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	start := time.Now()
	err := cmd.Run()
	if err != nil {
		return nil, fmt.Errorf("go test %s failed after %s: %w\n%s", pkg, time.Since(start).Round(time.Second), err, out.String())
	}
	res, err := parseBench(out.String())
	if err != nil {
		return nil, fmt.Errorf("go test %s: %w\n%s", pkg, err, out.String())
	}
	if len(res) == 0 {
		return nil, fmt.Errorf("go test %s gave no benchmark results (skipped? the host benchmarks need root, Nix and sshd):\n%s", pkg, out.String())
	}
	return res, nil
}

func quoteArgs(args []string) []string {
	out := make([]string, len(args))
	for i, a := range args {
		if strings.ContainsAny(a, "^$|()* ") {
			a = "'" + a + "'"
		}
		out[i] = a
	}
	return out
}

// benchLineRe matches a result line: name (with its -GOMAXPROCS suffix),
// iterations, ns/op, then "value unit" pairs. The name and the numbers
// may be split across lines when a benchmark prints while it runs, but
// not separated by other text.
var benchLineRe = regexp.MustCompile(`(?m)^(Benchmark\S+)\s+(\d+)\s+([0-9.eE+-]+) ns/op((?:[ \t]+[0-9.eE+-]+[ \t]+\S+)*)[ \t]*$`)

var procsSuffixRe = regexp.MustCompile(`-\d+$`)

func parseBench(out string) (benchResults, error) {
	res := benchResults{}
	for _, m := range benchLineRe.FindAllStringSubmatch(out, -1) {
		r := benchResult{name: procsSuffixRe.ReplaceAllString(m[1], ""), metrics: map[string]float64{}}
		var err error
		if r.iters, err = strconv.Atoi(m[2]); err != nil {
			return nil, fmt.Errorf("%s: iterations %q: %w", m[1], m[2], err)
		}
		if r.nsPerOp, err = strconv.ParseFloat(m[3], 64); err != nil {
			return nil, fmt.Errorf("%s: ns/op %q: %w", m[1], m[3], err)
		}
		f := strings.Fields(m[4])
		if len(f)%2 != 0 {
			return nil, fmt.Errorf("%s: metrics %q are not value-unit pairs", m[1], m[4])
		}
		for i := 0; i < len(f); i += 2 {
			v, err := strconv.ParseFloat(f[i], 64)
			if err != nil {
				return nil, fmt.Errorf("%s: metric %s %q: %w", m[1], f[i+1], f[i], err)
			}
			r.metrics[f[i+1]] = v
		}
		res[r.name] = r
	}
	return res, nil
}

// metric is the named result's metric in unit.
func (b benchResults) metric(name, unit string) (float64, error) {
	r, ok := b[name]
	if !ok {
		return 0, fmt.Errorf("no result line for %s", name)
	}
	v, ok := r.metrics[unit]
	if !ok {
		return 0, fmt.Errorf("%s reports no %s", name, unit)
	}
	return v, nil
}

// metrics are the named result's metrics in units, in order.
func (b benchResults) metrics(name string, units ...string) ([]float64, error) {
	out := make([]float64, len(units))
	var errs []error
	for i, u := range units {
		v, err := b.metric(name, u)
		out[i] = v
		errs = append(errs, err)
	}
	return out, errors.Join(errs...)
}

func msStr(v float64) string { return fmt.Sprintf("%.0f ms", v) }

func evaluateRows(b benchResults) ([]machineRow, error) {
	var rows []machineRow
	for _, n := range []int{1, 10, 50} {
		name := fmt.Sprintf("BenchmarkEvaluate/machines=%d", n)
		v, err := b.metrics(name, "ferry-ms", "raw-ms", "ratio")
		if err != nil {
			return nil, err
		}
		rows = append(rows, machineRow{
			shape: "evaluate (one pass)", n: strconv.Itoa(n),
			measure: "ferry / raw nix-instantiate",
			value:   fmt.Sprintf("%.2f", v[2]),
			detail:  fmt.Sprintf("ferry %.1f ms, raw %.1f ms (medians, %d runs)", v[0], v[1], b[name].iters),
			ok:      v[2] <= 1.2, target: "≤ 1.2",
		})
	}
	return rows, nil
}

func noChangeRows(b benchResults) ([]machineRow, error) {
	const name = "BenchmarkNoChange20Hosts"
	v, err := b.metrics(name, "plan-ms/op", "eval-ms/op", "plan-minus-eval-ms/op", "apply-ms/op")
	if err != nil {
		return nil, err
	}
	plan, eval, rest, apply := v[0], v[1], v[2], v[3]
	const shape = "20 hosts, no change"
	iters := b[name].iters
	return []machineRow{
		{shape: shape, n: "20", measure: "plan beyond evaluation", value: msStr(rest),
			detail: fmt.Sprintf("plan %.0f ms, of it eval %.0f ms (means, %d runs)", plan, eval, iters),
			ok:     rest <= 1000, target: "≤ 1000 ms"},
		{shape: shape, n: "20", measure: "apply", value: msStr(apply),
			detail: fmt.Sprintf("mean, %d runs", iters),
			ok:     apply <= 1500, target: "≤ 1500 ms"},
		{shape: shape, n: "20", measure: "paths copied", value: "0",
			detail: "the benchmark fails itself if plan or apply deploys any host",
			ok:     true, target: "= 0"},
	}, nil
}

func fromScratchRows(b benchResults) ([]machineRow, error) {
	const name = "BenchmarkFromScratch10Hosts"
	v, err := b.metrics(name, "build-ms/op", "slowest-host-ms/op", "apply/(build+slowest)")
	if err != nil {
		return nil, err
	}
	build, slowest, ratio := v[0], v[1], v[2]
	apply := b[name].nsPerOp / 1e6
	return []machineRow{
		{shape: "10 hosts from scratch", n: "10", measure: "apply / (build + slowest host)", value: fmt.Sprintf("%.2f", ratio),
			detail: fmt.Sprintf("apply %.0f ms, build %.0f ms, slowest host %.0f ms (means, %d runs)", apply, build, slowest, b[name].iters),
			ok:     ratio <= 1.3, target: "≤ 1.3"},
	}, nil
}

// planHostsRows: what reading the hosts adds to a plan beyond evaluation,
// at 10 and 100 hosts (the review-contract issue's targets).
func planHostsRows(b benchResults) ([]machineRow, error) {
	var rows []machineRow
	for _, t := range []struct {
		n      int
		target float64
	}{{10, 100}, {100, 300}} {
		name := fmt.Sprintf("BenchmarkPlanHosts/%d", t.n)
		v, err := b.metrics(name, "eval-ms/op", "plan-minus-eval-ms/op", "norefresh-minus-eval-ms/op")
		if err != nil {
			return nil, err
		}
		rows = append(rows, machineRow{
			shape: "plan, hosts read", n: strconv.Itoa(t.n), measure: "plan beyond evaluation", value: msStr(v[1]),
			detail: fmt.Sprintf("eval %.0f ms; with --refresh=false %.0f ms beyond eval (means, %d runs)", v[0], v[2], b[name].iters),
			ok:     v[1] <= t.target, target: fmt.Sprintf("≤ %.0f ms", t.target),
		})
	}
	return rows, nil
}

// refreshRows: the cloud calls a no-change plan of 5,000 objects of one
// type makes on the fake cloud (the provider-contract issue's target).
func refreshRows(b benchResults) ([]machineRow, error) {
	const name = "BenchmarkRefresh5000"
	calls, err := b.metric(name, "calls/op")
	if err != nil {
		return nil, err
	}
	return []machineRow{{
		shape: "refresh, one type (fake cloud)", n: "5000", measure: "cloud calls", value: fmt.Sprintf("%.0f", calls),
		detail: fmt.Sprintf("no-change plan %.0f ms (mean, %d runs)", b[name].nsPerOp/1e6, b[name].iters),
		ok:     calls <= 10, target: "≤ 10",
	}}, nil
}
