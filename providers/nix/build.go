package nix

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// BuildOptions says how Build runs nix-store.
type BuildOptions struct {
	// Jobs is Nix's -j (--max-jobs); zero keeps the user's nix.conf.
	Jobs int
	// LogLines is how many lines of a failed build's log a result keeps;
	// zero means DefaultLogLines.
	LogLines int
	// OnLog, when set, receives what Nix reports as it builds (build
	// starts, log lines, counts of derivations built and to build), as it
	// comes, from the goroutine reading Nix's stderr.
	OnLog func(LogEvent)
}

// DefaultLogLines is how many lines of a failed build's log a BuildError
// keeps unless BuildOptions.LogLines says otherwise.
const DefaultLogLines = 20

// BuildResult is the outcome of building one derivation.
type BuildResult struct {
	// Outputs maps output names ("out") to store paths, built or not.
	Outputs map[string]string
	// OutPath is the "out" output.
	OutPath string
	// Err is nil when every output was built (or was already valid); else
	// a *BuildError.
	Err error
}

// BuildError says why a derivation was not built.
type BuildError struct {
	Drv string
	// FailedDrv is the derivation whose builder failed: Drv itself or one
	// of its dependencies. Empty when Nix did not say.
	FailedDrv string
	// Message is Nix's error line.
	Message string
	// Log is the tail of FailedDrv's build log.
	Log string
}

func (e *BuildError) Error() string {
	var b strings.Builder
	switch {
	case e.FailedDrv == "" || e.FailedDrv == e.Drv:
		fmt.Fprintf(&b, "build %s: %s", e.Drv, e.Message)
	default:
		fmt.Fprintf(&b, "build %s: dependency %s failed: %s", e.Drv, e.FailedDrv, e.Message)
	}
	if e.Log != "" {
		fmt.Fprintf(&b, "\nlast %d lines of the build log:\n%s", strings.Count(e.Log, "\n")+1, indentLines(e.Log, "  "))
	}
	if e.FailedDrv != "" {
		fmt.Fprintf(&b, "\n(full log: nix-store -l %s)", e.FailedDrv)
	}
	return b.String()
}

// Build builds derivations with the zero Nix (see Nix.Build).
func Build(ctx context.Context, drvs []string, opts BuildOptions) (map[string]BuildResult, error) {
	return Nix{}.Build(ctx, drvs, opts)
}

// Build builds every derivation with one nix-store --realise --keep-going, so
// Nix schedules all builds together (its -j, the user's remote builders and
// substituters) and one failing derivation does not stop the others.
//
// The result holds every derivation asked for. When some failed, the error
// lists them and their results carry a *BuildError with the tail of the log
// of the builder that failed (theirs or a dependency's). An error with no
// results means nix-store could not run at all.
//
// Built outputs are not registered as garbage collector roots.
func (n Nix) Build(ctx context.Context, drvs []string, opts BuildOptions) (map[string]BuildResult, error) {
	drvs = uniqueSorted(drvs)
	results := make(map[string]BuildResult, len(drvs))
	if len(drvs) == 0 {
		return results, nil
	}
	for _, drv := range drvs {
		if !strings.HasSuffix(drv, ".drv") {
			return nil, fmt.Errorf("build %s: not a derivation (.drv) path", drv)
		}
		outs, err := readOutputs(drv)
		if err != nil {
			return nil, fmt.Errorf("build: %w; evaluate again (the derivation may have been garbage collected)", err)
		}
		r := BuildResult{Outputs: map[string]string{}}
		for _, o := range outs {
			r.Outputs[o.Name] = o.Path
		}
		r.OutPath = r.Outputs["out"]
		results[drv] = r
	}

	logLines := opts.LogLines
	if logLines <= 0 {
		logLines = DefaultLogLines
	}
	stream := newLogStream(withoutAddRootWarning(opts.OnLog), logLines)
	args := []string{"--realise", "--keep-going"}
	if opts.Jobs > 0 {
		args = append(args, "--max-jobs", fmt.Sprint(opts.Jobs))
	}
	args = append(args, drvs...)
	res, runErr := n.run(ctx, stream, "nix-store", args...)
	if runErr == nil {
		return results, nil
	}
	var ee *exitError
	if !errors.As(runErr, &ee) {
		return nil, fmt.Errorf("build: %w", runErr)
	}

	// Which outputs exist now decides success; stderr says why the others
	// failed.
	var outPaths []string
	for _, r := range results {
		for _, p := range r.Outputs {
			outPaths = append(outPaths, p)
		}
	}
	sort.Strings(outPaths)
	invalid, err := n.invalidPaths(ctx, outPaths)
	if err != nil {
		return nil, fmt.Errorf("build: %w (after: %v)", err, runErr)
	}
	failedBuilders := parseFailedBuilders(string(res.stderr))
	var failed []string
	for _, drv := range drvs {
		r := results[drv]
		missing := false
		for _, p := range r.Outputs {
			missing = missing || invalid[p]
		}
		if !missing {
			continue
		}
		failed = append(failed, drv)
		r.Err = n.explainFailure(ctx, drv, failedBuilders, string(res.stderr), stream, logLines)
		results[drv] = r
	}
	if len(failed) == 0 {
		// nix-store failed, yet everything asked for exists.
		return results, nil
	}
	errs := make([]error, 0, len(failed))
	for _, drv := range failed {
		errs = append(errs, results[drv].Err)
	}
	return results, fmt.Errorf("%d of %d builds failed:\n%w", len(failed), len(drvs), errors.Join(errs...))
}

// explainFailure finds why drv was not built: its own builder, a failed
// dependency, or whatever Nix said last.
func (n Nix) explainFailure(ctx context.Context, drv string, builders map[string]string, stderr string, stream *logStream, logLines int) *BuildError {
	be := &BuildError{Drv: drv}
	if msg, ok := builders[drv]; ok {
		be.FailedDrv, be.Message = drv, msg
	} else if len(builders) > 0 {
		if closure, err := n.Closure(ctx, drv); err == nil {
			for _, dep := range closure {
				if msg, ok := builders[dep]; ok {
					be.FailedDrv, be.Message = dep, msg
					break
				}
			}
		}
	}
	if be.FailedDrv == "" {
		be.Message = nixMessage(stderr)
		return be
	}
	// The stream had the log as it came; a build Nix did not run in this
	// call (a dependency that failed earlier, cached as failed) has its
	// log in the store.
	if tail, ok := stream.Tail(be.FailedDrv); ok {
		be.Log = tail
	} else if res, err := n.run(ctx, nil, "nix-store", "--read-log", be.FailedDrv); err == nil {
		be.Log = tailLines(string(res.stdout), logLines)
	}
	return be
}

// withoutAddRootWarning drops nix-store's warning that --realise without
// --add-root makes no garbage collector root: callers root what they keep
// (AddDrvRoots; the engine records deployed systems on their hosts).
func withoutAddRootWarning(onLog func(LogEvent)) func(LogEvent) {
	if onLog == nil {
		return nil
	}
	return func(ev LogEvent) {
		if ev.Kind == LogMessage && ev.Level == LevelWarn && strings.Contains(ev.Text, "you did not specify '--add-root'") {
			return
		}
		onLog(ev)
	}
}

// invalidPaths returns the paths that are not valid in the store.
func (n Nix) invalidPaths(ctx context.Context, paths []string) (map[string]bool, error) {
	res, err := n.run(ctx, nil, "nix-store", append([]string{"--check-validity", "--print-invalid"}, paths...)...)
	if err != nil {
		return nil, err
	}
	invalid := map[string]bool{}
	for _, line := range strings.Split(string(res.stdout), "\n") {
		if line != "" {
			invalid[line] = true
		}
	}
	return invalid, nil
}

// builderFailed matches Nix's report of a failing builder:
// error: builder for '/nix/store/...drv' failed with exit code 1[;]
var builderFailed = regexp.MustCompile(`builder for '(/nix/store/[^']+\.drv)' (failed[^;\n]*)`)

// parseFailedBuilders maps each derivation whose builder failed to Nix's
// reason ("failed with exit code 1").
func parseFailedBuilders(stderr string) map[string]string {
	out := map[string]string{}
	for _, m := range builderFailed.FindAllStringSubmatch(stderr, -1) {
		out[m[1]] = "builder " + m[2]
	}
	return out
}

func tailLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func indentLines(s, indent string) string {
	return indent + strings.ReplaceAll(s, "\n", "\n"+indent)
}

func uniqueSorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}
