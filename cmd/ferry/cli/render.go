package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/providers/nix"
)

// colors is a tiny ANSI palette that is empty when color is off.
type colors struct{ green, yellow, red, bold, reset string }

func (a *App) colors() colors {
	if a.NoColor || !a.Interactive {
		return colors{}
	}
	return colors{green: "\x1b[32m", yellow: "\x1b[33m", red: "\x1b[31m", bold: "\x1b[1m", reset: "\x1b[0m"}
}

var actionSymbol = map[plan.Action]string{
	plan.Create: "  +", plan.Update: "  ~", plan.Replace: "-/+", plan.Delete: "  -", plan.Import: " <=",
}

var actionPhrase = map[plan.Action]string{
	plan.Create: "will be created", plan.Update: "will be updated in place",
	plan.Replace: "must be replaced", plan.Delete: "will be destroyed", plan.Import: "will be imported",
}

// renderPlan writes the human form of p.
func renderPlan(w io.Writer, p *plan.Plan, c colors) {
	if !p.HasChanges() {
		if p.Count().Stopped > 0 {
			fmt.Fprintf(w, "No changes to apply. Deployment %q matches the configuration but for stopped machines, which wait:\n", p.Deployment)
		} else {
			fmt.Fprintf(w, "No changes. Deployment %q matches the configuration.\n", p.Deployment)
		}
		for _, m := range p.Machines {
			if m.Action == plan.Stopped { // apply leaves it alone: say why
				renderMachine(w, m, c)
			}
		}
		fmt.Fprintln(w)
	} else {
		fmt.Fprintf(w, "ferry will perform the following actions in deployment %q:\n", p.Deployment)
		for _, r := range p.Resources {
			if r.DeleteDeposed != nil {
				fmt.Fprintf(w, "\n  # %s%s%s (deposed object) will be destroyed: a create-before-destroy replacement left it\n%s  -%s %s (deposed)\n", c.bold, r.Addr, c.reset, c.red, c.reset, r.Addr)
				renderValues(w, r.DeleteDeposed, r.Sensitive, "-")
			}
			if r.Action == plan.Noop {
				continue
			}
			col := map[plan.Action]string{plan.Create: c.green, plan.Update: c.yellow, plan.Replace: c.red, plan.Delete: c.red, plan.Import: c.green}[r.Action]
			phrase := actionPhrase[r.Action]
			symbol := actionSymbol[r.Action]
			if r.Action == plan.Replace && r.CreateBeforeDestroy {
				phrase, symbol = "must be replaced (create the new object, then destroy the old)", "+/-"
			}
			if r.Action == plan.Import && !reflect.DeepEqual(r.Before, r.After) {
				phrase = "will be imported, then updated in place"
			}
			if r.Action == plan.Update && r.Downtime != "" {
				phrase = "will be updated in place " + c.yellow + "with downtime" + c.reset + ": " + r.Downtime
			}
			fmt.Fprintf(w, "\n  # %s%s%s %s", c.bold, r.Addr, c.reset, phrase)
			if r.Reason != "" {
				fmt.Fprintf(w, " (%s)", r.Reason)
			}
			if r.DeclaredAt != "" && r.Action != plan.Delete {
				fmt.Fprintf(w, "  [%s]", r.DeclaredAt)
			}
			fmt.Fprintf(w, "\n%s%s%s %s\n", col, symbol, c.reset, r.Addr)
			renderAttrs(w, r)
		}
		for _, m := range p.Machines {
			renderMachine(w, m, c)
		}
		fmt.Fprintln(w)
	}
	if ro := p.Rollout; ro != nil && len(ro.Batches) > 0 {
		fmt.Fprintf(w, "Rollout: %s of %s, stop after more than %s", spec.Count(len(ro.Batches), "batch"), batchSize(ro), spec.Count(ro.MaxFailures, "failure"))
		if ro.Pause != "" {
			fmt.Fprintf(w, ", pause %s between batches", ro.Pause)
		}
		fmt.Fprintln(w, ".")
	}
	if o := p.Options.Describe(); o != "" {
		fmt.Fprintf(w, "Options: %s.\n", o)
	}
	for _, pattern := range sortedKeys(p.TagMatches) {
		fmt.Fprintf(w, "Tag %s matched: %s.\n", pattern, orNone(strings.Join(p.TagMatches[pattern], ", ")))
	}
	n := p.Count()
	fmt.Fprintf(w, "%sPlan:%s ", c.bold, c.reset)
	if n.Import > 0 {
		fmt.Fprintf(w, "%d to import, ", n.Import)
	}
	fmt.Fprintf(w, "%d to add, %d to change, %d to destroy.", n.Add, n.Change, n.Destroy)
	if len(p.Machines) > 0 {
		if n.Install > 0 {
			fmt.Fprintf(w, " %s to install,", spec.Count(n.Install, "machine"))
		}
		fmt.Fprintf(w, " %s to deploy, %d unchanged", spec.Count(n.Deploy, "machine"), n.Unchanged)
		if n.Forget > 0 {
			fmt.Fprintf(w, ", %d to forget", n.Forget)
		}
		if n.Deferred > 0 {
			fmt.Fprintf(w, ", %d deferred", n.Deferred)
		}
		if n.Stopped > 0 {
			fmt.Fprintf(w, ", %d stopped", n.Stopped)
		}
		fmt.Fprint(w, ".")
	}
	fmt.Fprintln(w)
}

// renderMachine writes one machine's planned deployment.
func renderMachine(w io.Writer, m *plan.Machine, c colors) {
	switch m.Action {
	case plan.Noop:
		if m.Reboot != nil && m.Reboot.Needed {
			fmt.Fprintf(w, "\n  # %s%s%s is up to date, but %sreboot needed:%s %s (run with --reboot if-needed)\n",
				c.bold, m.Addr, c.reset, c.yellow, c.reset, strings.Join(m.Reboot.Reasons, "; "))
		}
		return
	case plan.Forget:
		fmt.Fprintf(w, "\n  # %s%s%s will be forgotten (%s)\n%s  -%s %s\n", c.bold, m.Addr, c.reset, m.Reason, c.red, c.reset, m.Addr)
		return
	case plan.Stopped:
		fmt.Fprintf(w, "\n  # %s%s%s is %sstopped%s: %s", c.bold, m.Addr, c.reset, c.yellow, c.reset, m.Reason)
		if m.DeclaredAt != "" {
			fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
		}
		fmt.Fprintln(w)
		return
	case plan.Deferred:
		fmt.Fprintf(w, "\n  # %s%s%s is deferred: %s", c.bold, m.Addr, c.reset, m.Reason)
		if m.DeclaredAt != "" {
			fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
		}
		fmt.Fprintf(w, "\n%s  ~%s %s  %s (deferred)\n", c.yellow, c.reset, m.Addr, targetText(m.Target))
		fmt.Fprintf(w, "      not evaluated now: the next plan deploys it (a plan-less `ferry apply` makes that plan right after this one)\n")
		return
	}
	if m.Action == plan.UploadKeys {
		fmt.Fprintf(w, "\n  # %s%s%s keys will be uploaded (%s)", c.bold, m.Addr, c.reset, m.Reason)
		if m.DeclaredAt != "" {
			fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
		}
		fmt.Fprintf(w, "\n%s  ~%s %s  %s\n", c.yellow, c.reset, m.Addr, targetText(m.Target))
		renderTarget(w, m.Target)
		renderKeys(w, m, c)
		return
	}
	if m.Install != nil {
		renderInstall(w, m, c) // render_install.go
		return
	}
	// A machine ferry never deployed is added, like a created resource;
	// one it deployed before is changed.
	phrase, col, symbol := "will be deployed", c.yellow, "~"
	if m.Previous == "" {
		phrase, col, symbol = "will be deployed for the first time", c.green, "+"
	}
	fmt.Fprintf(w, "\n  # %s%s%s %s (%s)", c.bold, m.Addr, c.reset, phrase, m.Activate)
	if m.Batch > 0 {
		fmt.Fprintf(w, " in rollout batch %d", m.Batch)
	}
	if m.DeclaredAt != "" {
		fmt.Fprintf(w, "  [%s]", m.DeclaredAt)
	}
	fmt.Fprintf(w, "\n%s  %s%s %s  %s\n", col, symbol, c.reset, m.Addr, targetText(m.Target))
	renderSystem(w, m)
	if m.Transfer != nil {
		fmt.Fprintf(w, "      transfer: %s\n", m.Transfer)
	}
	renderTarget(w, m.Target)
	if m.TagsFrom != "" {
		fmt.Fprintf(w, "      tags:    %s (from %s)\n", strings.Join(m.Tags, ", "), m.TagsFrom)
	}
	if m.Previous != "" {
		fmt.Fprintf(w, "      was:     %s\n", m.Previous)
	}
	switch {
	case m.CurrentRead && m.Current != m.Previous:
		fmt.Fprintf(w, "      running: %s\n", orNone(m.Current))
	case !m.CurrentRead && m.Reason == "":
		fmt.Fprintf(w, "      running: (not read: --refresh=false)\n")
	}
	if m.Reason != "" {
		fmt.Fprintf(w, "      %snote:%s %s\n", c.yellow, c.reset, m.Reason)
	}
	if m.Pending != "" {
		fmt.Fprintf(w, "      %sunconfirmed:%s %s\n", c.yellow, c.reset, m.Pending)
	}
	if r := m.Reboot; r != nil {
		switch {
		case r.Will && r.Needed:
			fmt.Fprintf(w, "      %sreboot:%s will reboot (needed: %s)\n", c.yellow, c.reset, strings.Join(r.Reasons, "; "))
		case r.Will:
			fmt.Fprintf(w, "      %sreboot:%s will reboot (--reboot always)\n", c.yellow, c.reset)
		case r.Needed:
			fmt.Fprintf(w, "      %sreboot needed:%s %s (not rebooting: --reboot never; run with --reboot if-needed)\n", c.yellow, c.reset, strings.Join(r.Reasons, "; "))
		case r.Unknown != "":
			fmt.Fprintf(w, "      reboot: not known whether needed (%s)\n", r.Unknown)
		}
	}
	if m.MagicRollback {
		fmt.Fprintf(w, "      rollback: unless confirmed over a new SSH connection within %s\n", m.ConfirmTimeout)
	}
	renderKeys(w, m, c)
	for _, ch := range m.Checks {
		fmt.Fprintf(w, "      check:   %s\n", ch.Describe())
	}
	if d := m.Packages; d != nil {
		for _, p := range d.Added {
			fmt.Fprintf(w, "      %s+%s %s %s\n", c.green, c.reset, p.Name, p.Version)
		}
		for _, p := range d.Changed {
			fmt.Fprintf(w, "      %s~%s %s %s -> %s\n", c.yellow, c.reset, p.Name, p.OldVersion, p.Version)
		}
		for _, p := range d.Removed {
			fmt.Fprintf(w, "      %s-%s %s %s\n", c.red, c.reset, p.Name, p.Version)
		}
	}
}

// renderSystem shows the system and, unless it is built here (the
// default), where it is built or where it comes from.
func renderSystem(w io.Writer, m *plan.Machine) {
	switch m.SystemGiven {
	case "":
		fmt.Fprintf(w, "      system:  %s\n", m.Path)
	case plan.SystemLocal:
		fmt.Fprintf(w, "      system:  %s (given, not evaluated; pushed from this machine's Nix store)\n", m.Path)
	case plan.SystemOnHost:
		fmt.Fprintf(w, "      system:  %s (given, not evaluated; the host has it)\n", m.Path)
	default:
		from := "its substituters"
		if t := m.Transfer; t != nil && t.Mode == spec.TransferCache && t.Substituter != "" {
			from += " and the fleet cache " + t.Substituter
		}
		fmt.Fprintf(w, "      system:  %s (given, not evaluated; the host fetches it from %s)\n", m.Path, from)
	}
	switch {
	case m.BuildOnTarget:
		fmt.Fprintf(w, "      build:   on the target\n")
	case m.BuildHost != nil:
		key := "host key pinned"
		if m.BuildHost.Target.HostKey == "" {
			key = "host key trusted on first use and pinned"
		}
		fmt.Fprintf(w, "      build:   on %s (ssh %s; %s), fetched by the target from there\n", m.BuildHost.Name, m.BuildHost.Target, key)
	}
}

// targetText is user@host:port, "(known after apply)" standing for what
// comes from a resource the plan creates or replaces.
func targetText(t plan.Target) string {
	arg := func(name, plain string) string {
		if _, ok := t.Refs[name]; ok {
			return "(known after apply)"
		}
		return plain
	}
	return arg("user", t.User) + "@" + arg("host", t.Host) + ":" + arg("port", strconv.Itoa(t.Port))
}

// renderTarget shows where a target given by the machine's modules came
// from and, for a target known only after apply, where its arguments come
// from and how its host key will be checked.
func renderTarget(w io.Writer, t plan.Target) {
	if t.From != "" {
		fmt.Fprintf(w, "      target:  %s\n", t.From)
	}
	if t.Known() {
		return
	}
	var args []string
	for j, prefix := &t, ""; j != nil; j, prefix = j.Jump, prefix+"jump." {
		for _, name := range []string{"host", "port", "user", "host_key"} {
			x, ok := j.Refs[name]
			if ok && (name != "host_key" || prefix != "") { // the machine's own key: below
				args = append(args, prefix+name+" = "+spec.Render(x))
			}
		}
	}
	if len(args) > 0 {
		fmt.Fprintf(w, "      target:  %s (known after apply)\n", strings.Join(args, ", "))
	}
	switch x, ok := t.Refs["host_key"]; {
	case ok:
		fmt.Fprintf(w, "      host key: %s (known after apply), pinned before the first login\n", spec.Render(x))
	case t.HostKey != "":
		fmt.Fprintf(w, "      host key: as configured, pinned before the first login\n")
	default:
		fmt.Fprintf(w, "      host key: trusted on first use (no host_key: ferry pins the key the new host presents at the first login)\n")
	}
}

func batchSize(ro *plan.Rollout) string {
	if ro.BatchPercent > 0 {
		return fmt.Sprintf("%d%%", ro.BatchPercent)
	}
	return spec.Count(ro.Batch, "machine")
}

// renderKeys lists a machine's keys and whether they change; secrets are
// never in a plan, only their hashes.
func renderKeys(w io.Writer, m *plan.Machine, c colors) {
	for _, k := range m.Keys {
		mark := map[string]string{"new": c.green + "+" + c.reset, "changed": c.yellow + "~" + c.reset}[k.Change]
		if mark == "" {
			mark = " "
		}
		fmt.Fprintf(w, "      key %s %s (%s, %s:%s %s) %s\n", mark, k.Dest, k.Source, k.User, k.Group, k.Permissions, k.Change)
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func renderAttrs(w io.Writer, r *plan.Resource) {
	keys := map[string]bool{}
	for k := range r.Before {
		keys[k] = true
	}
	for k := range r.After {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	width := 0
	for k := range keys {
		names = append(names, k)
		width = max(width, len(k))
	}
	sort.Strings(names)
	forces := map[string]bool{}
	for _, a := range r.ReplaceBecause {
		forces[a] = true
	}
	sensitive := map[string]bool{}
	for _, a := range r.Sensitive {
		sensitive[a] = true
	}
	show := func(k string, v any) string {
		if sensitive[k] && v != nil {
			return "(sensitive)"
		}
		return spec.Render(v)
	}
	for _, k := range names {
		before, hadBefore := r.Before[k]
		after, hasAfter := r.After[k]
		pad := strings.Repeat(" ", width-len(k))
		switch {
		case r.Action == plan.Delete:
			fmt.Fprintf(w, "      - %s%s = %s\n", k, pad, show(k, before))
		case r.Action == plan.Import && reflect.DeepEqual(before, after):
			fmt.Fprintf(w, "        %s%s = %s\n", k, pad, show(k, before))
		case !hadBefore:
			fmt.Fprintf(w, "      + %s%s = %s\n", k, pad, show(k, after))
		case !hasAfter:
			fmt.Fprintf(w, "      - %s%s = %s\n", k, pad, show(k, before))
		case !reflect.DeepEqual(before, after):
			note := ""
			if forces[k] {
				note = "  # forces replacement"
			}
			fmt.Fprintf(w, "      ~ %s%s = %s -> %s%s\n", k, pad, show(k, before), show(k, after), note)
		}
	}
}

// renderValues lists attributes with a leading mark, sensitive ones
// hidden.
func renderValues(w io.Writer, attrs map[string]any, sensitive []string, mark string) {
	hidden := map[string]bool{}
	for _, a := range sensitive {
		hidden[a] = true
	}
	names := make([]string, 0, len(attrs))
	width := 0
	for k := range attrs {
		names = append(names, k)
		width = max(width, len(k))
	}
	sort.Strings(names)
	for _, k := range names {
		v := spec.Render(attrs[k])
		if hidden[k] && attrs[k] != nil {
			v = "(sensitive)"
		}
		fmt.Fprintf(w, "      %s %s%s = %s\n", mark, k, strings.Repeat(" ", width-len(k)), v)
	}
}

// eventPrinter renders apply progress: one line per finished operation,
// or JSON lines with --json. Safe for concurrent use.
type eventPrinter struct {
	mu      sync.Mutex
	w       io.Writer
	json    bool
	c       colors
	live    *liveStatus // nil: no live status line
	verbose bool        // -v: all of Nix's log (nixlog.go)
	counts  nixCounts   // the latest counts of derivations Nix reported
}

// finish erases the live status line, if one is drawn.
func (p *eventPrinter) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.live != nil && p.live.drawn {
		fmt.Fprint(p.w, clearLine)
		p.live.drawn = false
	}
}

var pastTense = map[plan.Action]string{
	plan.Create: "created", plan.Update: "updated", plan.Replace: "replaced", plan.Delete: "destroyed",
	plan.Deploy: "deployed", plan.Forget: "forgotten", plan.UploadKeys: "keys uploaded", plan.Import: "imported",
}

func (p *eventPrinter) event(ev engine.Event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.json {
		b, _ := json.Marshal(ev)
		fmt.Fprintf(p.w, "%s\n", b)
		return
	}
	var nixLine string
	if ev.Kind == engine.EventNix {
		p.counts.update(ev.Nix)
		if nixLine = p.nixLine(ev); nixLine == "" && (p.live == nil || ev.Nix.Kind != nix.LogProgress) {
			return // nothing to print, no status to redraw
		}
	}
	if p.live != nil {
		if p.live.drawn {
			fmt.Fprint(p.w, clearLine)
		}
		p.live.update(ev)
		defer func() {
			fmt.Fprint(p.w, p.live.line())
			p.live.drawn = true
		}()
	}
	switch ev.Kind {
	case engine.EventDone:
		id := ""
		if ev.ID != "" && ev.Action != plan.Delete {
			id = fmt.Sprintf(" [id=%s]", ev.ID)
		}
		if ev.Message != "" {
			id += " (" + ev.Message + ")"
		}
		fmt.Fprintf(p.w, "%s: %s%s%s%s (%s)\n", ev.Addr, p.c.green, pastTense[ev.Action], p.c.reset, id, ev.Duration.Round(time.Millisecond))
	case engine.EventFailed:
		if plan.IsGateAddr(ev.Addr) {
			fmt.Fprintf(p.w, "%s%s%s\n", p.c.red, ev.Message, p.c.reset)
			break
		}
		fmt.Fprintf(p.w, "%s: %s%s failed%s: %s\n", ev.Addr, p.c.red, ev.Action, p.c.reset, ev.Message)
	case engine.EventSkipped:
		if plan.IsGateAddr(ev.Cause) {
			fmt.Fprintf(p.w, "%s: not touched (the rollout stopped at %s)\n", ev.Addr, ev.Cause)
			break
		}
		fmt.Fprintf(p.w, "%s: skipped (%s failed)\n", ev.Addr, ev.Cause)
	case engine.EventRecovered, engine.EventLockBroken, engine.EventLockWait:
		fmt.Fprintf(p.w, "note: %s\n", ev.Message)
	case engine.EventWarning:
		fmt.Fprintf(p.w, "%swarning%s: %s: %s\n", p.c.yellow, p.c.reset, ev.Addr, ev.Message)
	case engine.EventNix:
		if nixLine != "" {
			fmt.Fprintln(p.w, nixLine)
		}
	case engine.EventProgress:
		if ev.Addr != "" && !plan.IsGateAddr(ev.Addr) {
			fmt.Fprintf(p.w, "%s> %s\n", strings.TrimPrefix(ev.Addr, "machine."), ev.Message)
		} else {
			fmt.Fprintf(p.w, "%s\n", ev.Message)
		}
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	return enc.Encode(v)
}
