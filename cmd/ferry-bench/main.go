// Command ferry-bench measures ferry on the shapes of the engine issue and
// prints a table: shape, n, step, median wall time, peak RSS, the target
// and whether it was met. It runs the real ferry binary with file:// state,
// each step several times on fresh copies of the state (medians; these
// machines are shared and noisy).
//
// A second table covers the machine speed targets of the machines issue.
// It runs the Go benchmarks from the repository root (found from the
// working directory, else from the -ferry binary's path) and reads their
// result lines:
//
//	go test -run '^$' -bench '^BenchmarkEvaluate$' -benchtime 10x -count 1 ./providers/nix
//	go test -run '^$' -bench '^Benchmark(NoChange20Hosts|FromScratch10Hosts)$' -benchtime 5x -count 1 ./engine
//
// 10x for Evaluate (each iteration is one ferry and one raw evaluation;
// the benchmark reports medians) and 5x for the host benchmarks (each
// iteration of FromScratch10Hosts starts 10 test hosts and builds 10 new
// systems) keep the whole machine part to about a minute on 2 cores, well
// under 3 minutes even with compilation. The host benchmarks need root,
// Nix and sshd. A failing go test prints its output and exits 1; missed
// targets only say MISSED, as in the first table.
//
// -only keeps the shapes whose name contains its argument; the machine
// table's parts are named machines/evaluate, machines/no-change and
// machines/from-scratch, so -only machines runs just the machine table and
// -only layered skips it. -machines=false skips it too.
//
//	go tool task bench            # all shapes and the machine table
//	go run ./cmd/ferry-bench -ferry bin/ferry -runs 5 -only layered
//	go run ./cmd/ferry-bench -ferry bin/ferry -only machines
package main

import (
	"bytes"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"
)

type shape struct {
	name   string
	n      int
	config string
	steps  []step
}

type step struct {
	name    string
	args    []string
	target  time.Duration // 0: no target
	mib     float64       // peak RSS target, 0: none
	isApply bool
}

const layeredStar = `
n = int(var("n"))
layers = 10
width = n // layers
def build():
    prev = []
    for l in range(layers):
        cur = []
        for i in range(width):
            trig = {"l": l, "i": i}
            if prev:
                trig["a"] = prev[i % width].id
                trig["b"] = prev[(i * 7 + 1) % width].id
            cur.append(null.resource(name = "l%d_%d" % (l, i), triggers = trig))
        prev = cur
build()
`

const independentStar = `
n = int(var("n"))
def build():
    for i in range(n):
        null.resource(name = "r%d" % i, triggers = {"i": i})
build()
`

const chainStar = `
n = int(var("n"))
def build():
    prev = None
    for i in range(n):
        t = {"i": i}
        if prev:
            t["prev"] = prev.id
        prev = null.resource(name = "c%d" % i, triggers = t)
build()
`

const sleepStar = `
n = int(var("n"))
def build():
    for i in range(n):
        time.sleep(name = "s%d" % i, duration = "50ms")
build()
`

func main() {
	ferry := flag.String("ferry", "bin/ferry", "the ferry binary")
	runs := flag.Int("runs", 3, "runs per step (the median is reported)")
	only := flag.String("only", "", "run only shapes (and machine table parts: machines/evaluate, machines/no-change, machines/from-scratch) whose name contains this")
	machines := flag.Bool("machines", true, "include the machine table (Go benchmarks of evaluation and of deploying to test hosts)")
	flag.Parse()
	bin, err := filepath.Abs(*ferry)
	if err != nil {
		fail(err)
	}
	shapes := []shape{
		{name: "layered", n: 5000, config: layeredStar, steps: []step{
			{name: "plan --out (empty state)", args: []string{"plan", "--out", "plan.json"}, target: 500 * time.Millisecond, mib: 150},
			{name: "apply plan.json", args: []string{"apply", "plan.json"}, target: time.Second, isApply: true},
			{name: "re-plan (no changes)", args: []string{"plan"}, target: 500 * time.Millisecond},
		}},
		{name: "independent", n: 10000, config: independentStar, steps: []step{
			{name: "plan --out (empty state)", args: []string{"plan", "--out", "plan.json"}, target: time.Second},
		}},
		{name: "chain", n: 2000, config: chainStar, steps: []step{
			{name: "plan --out (empty state)", args: []string{"plan", "--out", "plan.json"}},
			{name: "apply plan.json", args: []string{"apply", "plan.json"}, isApply: true},
			{name: "re-plan (no changes)", args: []string{"plan"}},
		}},
		{name: "sleep-50ms", n: 200, config: sleepStar, steps: []step{
			{name: "plan --out (empty state)", args: []string{"plan", "--out", "plan.json"}},
			{name: "apply --parallelism 10", args: []string{"apply", "--parallelism", "10", "plan.json"}, target: 1100 * time.Millisecond, isApply: true},
			{name: "apply --parallelism 50", args: []string{"apply", "--parallelism", "50", "plan.json"}, target: 230 * time.Millisecond, isApply: true},
		}},
	}
	selected := func(name string) bool { return *only == "" || strings.Contains(name, *only) }
	var picked []shape
	for _, s := range shapes {
		if selected(s.name) {
			picked = append(picked, s)
		}
	}
	allOK := true
	if len(picked) > 0 {
		if !runShapes(bin, picked, *runs) {
			allOK = false
		}
	}
	if *machines {
		var parts []machinePart
		for _, p := range append(machineParts, awsParts...) {
			if selected(p.name) {
				parts = append(parts, p)
			}
		}
		if len(parts) > 0 {
			if len(picked) > 0 {
				fmt.Println()
			}
			ok, err := runMachines(bin, parts)
			if err != nil {
				fail(err)
			}
			if !ok {
				allOK = false
			}
		}
	}
	if !allOK {
		fmt.Println("\nsome targets were missed (see MISSED above)")
	}
}

// runShapes prints the table of the engine shapes; false if a target was
// missed.
func runShapes(bin string, shapes []shape, runs int) bool {
	tw := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', tabwriter.AlignRight|tabwriter.Debug)
	fmt.Fprintln(tw, "shape\tn\tstep\twall (median)\tpeak RSS\ttarget\t")
	allOK := true
	for _, s := range shapes {
		res, err := runShape(bin, s, runs)
		if err != nil {
			fail(fmt.Errorf("%s: %w", s.name, err))
		}
		for _, r := range res {
			fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%.0f MiB\t%s\t\n", s.name, s.n, r.step, r.wall.Round(time.Millisecond), r.mib, r.verdict)
			if strings.HasPrefix(r.verdict, "MISSED") {
				allOK = false
			}
		}
	}
	tw.Flush()
	return allOK
}

type result struct {
	step    string
	wall    time.Duration
	mib     float64
	verdict string
}

func runShape(bin string, s shape, runs int) ([]result, error) {
	dir, err := os.MkdirTemp("", "ferry-bench-"+s.name+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(s.config), 0o644); err != nil {
		return nil, err
	}
	env := append(os.Environ(), "FERRY_VAR_n="+strconv.Itoa(s.n), "FERRY_STATS=1")
	var out []result
	// Each step runs on the state left by the previous step; apply steps
	// restore that state before every run so each run does the same work.
	var stats string
	planBase := filepath.Join(dir, ".ferry-plan-base")
	for _, st := range s.steps {
		var walls []time.Duration
		var peak float64
		for i := 0; i < runs; i++ {
			if st.isApply {
				_ = os.RemoveAll(filepath.Join(dir, ".ferry"))
				if err := copyTree(planBase, filepath.Join(dir, ".ferry")); err != nil {
					return nil, err
				}
			}
			wall, mib, stderr, err := run(bin, dir, env, st.args)
			if err != nil {
				return nil, fmt.Errorf("%s: %w\n%s", st.name, err, stderr)
			}
			walls = append(walls, wall)
			peak = max(peak, mib)
			if st.isApply {
				stats = stderr
			}
		}
		if !st.isApply {
			// plan.json is planned against the state as the plan left it
			// (with the deployment's plan key, which signs it): apply
			// steps restore exactly this state before every run.
			_ = os.RemoveAll(planBase)
			if err := copyTree(filepath.Join(dir, ".ferry"), planBase); err != nil {
				return nil, err
			}
		}
		sort.Slice(walls, func(i, j int) bool { return walls[i] < walls[j] })
		med := walls[len(walls)/2]
		verdict := "-"
		if st.target > 0 || st.mib > 0 {
			ok := (st.target == 0 || med <= st.target) && (st.mib == 0 || peak <= st.mib)
			verdict = "≤ "
			if st.target > 0 {
				verdict += st.target.String()
			}
			if st.mib > 0 {
				verdict += fmt.Sprintf(", ≤ %.0f MiB", st.mib)
			}
			if ok {
				verdict = "ok " + verdict
			} else {
				verdict = "MISSED " + verdict
			}
		}
		out = append(out, result{step: st.name, wall: med, mib: peak, verdict: verdict})
		if st.isApply && s.name == "layered" {
			written := statValue(stats, "state_bytes_written")
			final := dirLatestSnapshotSize(filepath.Join(dir, ".ferry"))
			if final > 0 {
				ratio := float64(written) / float64(final)
				v := "ok ≤ 20×"
				if ratio > 20 {
					v = "MISSED ≤ 20×"
				}
				out = append(out, result{step: fmt.Sprintf("state bytes written: %d = %.1f× final state (%d)", written, ratio, final), verdict: v})
			}
		}
	}
	return out, nil
}

func run(bin, dir string, env, args []string) (time.Duration, float64, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stderr bytes.Buffer
	cmd.Stdout = nil
	cmd.Stderr = &stderr
	start := time.Now()
	err := cmd.Run()
	wall := time.Since(start)
	var mib float64
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		mib = float64(ru.Maxrss) / 1024
	}
	return wall, mib, stderr.String(), err
}

var statRe = regexp.MustCompile(`(?m)^ferry-stats: (\w+)=(\d+)$`)

func statValue(stderr, name string) int64 {
	for _, m := range statRe.FindAllStringSubmatch(stderr, -1) {
		if m[1] == name {
			v, _ := strconv.ParseInt(m[2], 10, 64)
			return v
		}
	}
	return 0
}

// dirLatestSnapshotSize is the size of the newest state snapshot file.
func dirLatestSnapshotSize(root string) int64 {
	var best string
	var size int64
	_ = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || !strings.Contains(p, string(filepath.Separator)+"state"+string(filepath.Separator)) || !strings.HasSuffix(p, ".json") {
			return nil
		}
		if p > best {
			if info, err := d.Info(); err == nil {
				best, size = p, info.Size()
			}
		}
		return nil
	})
	return size
}

func copyTree(src, dst string) error {
	if _, err := os.Stat(src); os.IsNotExist(err) {
		return nil
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "ferry-bench:", err)
	os.Exit(1)
}
