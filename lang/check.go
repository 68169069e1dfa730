package lang

import (
	"fmt"
	"net/url"
	"time"

	"go.starlark.net/starlark"

	"github.com/nixferry/ferry/engine/spec"
)

// checkBuiltins provides the health checks for machine(checks = [...]):
//
//   - cmd_check(cmd, timeout = "30s", retries = 3, interval = "2s"): a
//     shell command run on the host after activation, with the new
//     system's sw/bin first on PATH; it passes when it exits 0.
//   - http_check(url, status = 200, timeout = "30s", retries = 3,
//     interval = "2s"): a GET request made from the deployer; it passes
//     when the response has the wanted status.
//
// retries is the number of attempts after the first failed one, interval
// the wait between attempts, timeout the bound of each attempt; a check
// that never passes is given up after (retries + 1) × timeout + retries ×
// interval at most.
func checkBuiltins(*run) (starlark.StringDict, error) {
	return starlark.StringDict{
		"cmd_check":  starlark.NewBuiltin("cmd_check", cmdCheck),
		"http_check": starlark.NewBuiltin("http_check", httpCheck),
	}, nil
}

// Defaults of the checks.
const (
	defaultCheckTimeout  = 30 * time.Second
	defaultCheckRetries  = 3
	defaultCheckInterval = 2 * time.Second
)

var (
	cmdCheckParams = []param{
		{name: "cmd", required: true, doc: "A shell command run on the host after activation, with the new system's sw/bin first on PATH; the check passes when it exits 0."},
		{name: "timeout", def: `"30s"`, doc: "The bound of each attempt."},
		{name: "retries", def: "3", doc: "Attempts after the first failed one."},
		{name: "interval", def: `"2s"`, doc: "The wait between attempts."},
	}
	httpCheckParams = []param{
		{name: "url", required: true, doc: "The URL of a GET request made from the deployer (not from the host)."},
		{name: "status", def: "200", doc: "The status the response must have."},
		{name: "timeout", def: `"30s"`, doc: "The bound of each attempt."},
		{name: "retries", def: "3", doc: "Attempts after the first failed one."},
		{name: "interval", def: `"2s"`, doc: "The wait between attempts."},
	}
	cmdCheckDoc = builtinDoc{name: "cmd_check", params: cmdCheckParams, returns: "a check for machine(checks = [...])",
		summary: "A health check run on the host after activation. A deploy succeeds only when its checks pass; one that never passes is given up after (retries + 1) × timeout + retries × interval at most."}
	httpCheckDoc = builtinDoc{name: "http_check", params: httpCheckParams, returns: "a check for machine(checks = [...])",
		summary: "A health check that requests a URL from the deployer after activation and passes on the wanted status."}
)

func cmdCheck(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "cmd_check"}
	a := unpack(p, cmdCheckParams, args, kwargs)
	c := newCheck(r, thread, "cmd")
	if v, ok := a["cmd"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("cmd", err)
		} else if s == "" {
			p.add("cmd is empty: pass a command that exits 0 when the host is healthy, such as \"systemctl is-active nginx\"")
		} else {
			c.Cmd = s
		}
	}
	checkTiming(p, a, c)
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return &checkValue{c: c}, nil
}

func httpCheck(thread *starlark.Thread, _ *starlark.Builtin, args starlark.Tuple, kwargs []starlark.Tuple) (starlark.Value, error) {
	r := runOf(thread)
	p := &callProblems{fn: "http_check"}
	a := unpack(p, httpCheckParams, args, kwargs)
	c := newCheck(r, thread, "http")
	c.Status = 200
	if v, ok := a["url"]; ok {
		if s, err := wantString(v); err != nil {
			p.addArg("url", err)
		} else if u, perr := url.Parse(s); perr != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			p.add("url %q is not an http:// or https:// URL with a host", s)
		} else {
			c.URL = s
		}
	}
	if v, ok := a["status"]; ok {
		if n, err := wantInt(v); err != nil {
			p.addArg("status", err)
		} else if n < 100 || n > 599 {
			p.add("status %d is not an HTTP status code (100 to 599)", n)
		} else {
			c.Status = int(n)
		}
	}
	checkTiming(p, a, c)
	if err := p.report(r, thread); err != nil {
		return nil, err
	}
	return &checkValue{c: c}, nil
}

func newCheck(r *run, thread *starlark.Thread, kind string) *spec.Check {
	return &spec.Check{Kind: kind, Timeout: defaultCheckTimeout, Retries: defaultCheckRetries,
		Interval: defaultCheckInterval, Pos: r.callerPos(thread, 1)}
}

// checkTiming reads timeout, retries and interval.
func checkTiming(p *callProblems, a map[string]starlark.Value, c *spec.Check) {
	durationArg(p, a, "timeout", &c.Timeout, func(d time.Duration) string {
		if d <= 0 {
			return "want a positive duration"
		}
		return ""
	})
	if v, ok := a["retries"]; ok {
		if n, err := wantInt(v); err != nil {
			p.addArg("retries", err)
		} else if n < 0 || n > 1000 {
			p.add("retries %d: want 0 to 1000 (attempts after the first failed one)", n)
		} else {
			c.Retries = int(n)
		}
	}
	durationArg(p, a, "interval", &c.Interval, notNegative)
}

// durationArg reads the optional duration argument name into dst, when
// it is given, a duration and accepted by check (which returns what is
// wrong with it, or "").
func durationArg(p *callProblems, a map[string]starlark.Value, name string, dst *time.Duration, check func(time.Duration) string) {
	v, ok := a[name]
	if !ok {
		return
	}
	d, msg := wantDuration(v)
	switch {
	case msg != "":
		p.add("argument %q: %s", name, msg)
	case check(d) != "":
		p.add("%s %s: %s", name, d, check(d))
	default:
		*dst = d
	}
}

// notNegative accepts durations of 0 or more.
func notNegative(d time.Duration) string {
	if d < 0 {
		return "want a duration of 0 or more"
	}
	return ""
}

// wantDuration reads a duration written as Go writes them ("30s",
// "1m30s", "250ms").
func wantDuration(v starlark.Value) (time.Duration, string) {
	s, err := wantString(v)
	if err != nil {
		return 0, err.msg
	}
	d, perr := time.ParseDuration(s)
	if perr != nil {
		return 0, fmt.Sprintf("%q is not a duration: write it like \"30s\", \"2m\" or \"500ms\"", s)
	}
	return d, ""
}

// checkValue is what cmd_check() and http_check() return.
type checkValue struct{ c *spec.Check }

func (v *checkValue) String() string        { return "<check " + v.c.Describe() + ">" }
func (v *checkValue) Type() string          { return v.c.Kind + "_check" }
func (v *checkValue) Freeze()               {}
func (v *checkValue) Truth() starlark.Bool  { return starlark.True }
func (v *checkValue) Hash() (uint32, error) { return 0, fmt.Errorf("unhashable type: check") }

func (v *checkValue) passedItself() string {
	return "got a health check; pass it in machine(checks = [...])"
}
