package lang

import (
	"strconv"
	"strings"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// rolloutBuiltins provides rollout(batch = 1, max_failures = 0, pause =
// "0s", tags = []): the deployment's rolling policy (Config.Rollout).
// batch is a number of machines or a percentage ("25%", rounded up, at
// least one machine); with tags, only the machines carrying one of them
// roll out in batches and the others deploy as usual. It may be called
// once.
func rolloutBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{"rollout": starlark.NewBuiltin("rollout", declareRollout)}, nil
}

var (
	rolloutParams = []param{
		{name: "batch", def: "1", doc: `Machines per batch: a number, or a percentage ("25%", rounded up, at least one machine).`},
		{name: "max_failures", def: "0", doc: "The rollout stops when more machines than this have failed; the summary lists those not touched."},
		{name: "pause", def: `"0s"`, doc: "The wait between batches."},
		{name: "tags", def: "[]", doc: "Only machines with one of these tags roll out in batches; the others deploy as usual."},
	}
	rolloutDoc = builtinDoc{name: "rollout", params: rolloutParams, returns: "None",
		summary: "The deployment's rolling policy: machines deploy in batches, in address order, with a gate after each batch. Call it once."}
)

func declareRollout(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	pos := r.callerPos(thread, 1)
	if r.cfg.Rollout != nil {
		return starlark.None, r.report(r.callerError(thread,
			"rollout() is called a second time; the first call is at %s: call it once", r.cfg.Rollout.Pos))
	}
	p := &callProblems{fn: "rollout"}
	a := unpack(p, rolloutParams, args, kwargs)
	ro := &spec.Rollout{Batch: 1, Pos: pos}
	if v, ok := a["batch"]; ok {
		switch b := v.(type) {
		case starlark.Int:
			n, ok := b.Int64()
			if !ok || n < 1 {
				p.add("batch %s: want at least 1 machine per batch, or a percentage such as \"25%%\"", b)
			} else {
				ro.Batch = int(n)
			}
		case starlark.String:
			pct, isPct := strings.CutSuffix(string(b), "%")
			n, err := strconv.Atoi(pct)
			if !isPct || err != nil || n < 1 || n > 100 {
				p.add("batch %q: want a percentage from \"1%%\" to \"100%%\", or a number of machines", string(b))
			} else {
				ro.Batch, ro.BatchPercent = 0, n
			}
		default:
			p.add("argument \"batch\": got %s, want int (machines per batch) or string (a percentage such as \"25%%\")", v.Type())
		}
	}
	if v, ok := a["max_failures"]; ok {
		if n, err := wantInt(v); err != nil {
			p.addArg("max_failures", err)
		} else if n < 0 {
			p.add("max_failures %d: want 0 or more", n)
		} else {
			ro.MaxFailures = int(n)
		}
	}
	durationArg(p, a, "pause", &ro.Pause, notNegative)
	if v, ok := a["tags"]; ok {
		if tags, err := wantStrings(v); err != nil {
			p.addArg("tags", err)
		} else {
			ro.Tags = tagList(p, tags)
		}
	}
	r.cfg.Rollout = ro // set even with problems, so that a second call is still reported
	return starlark.None, p.report(r, thread)
}
