package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/providers/nix"
)

// liveStatus is the line a terminal shows below apply's output while it
// runs: how many operations finished out of how many, and what each running
// machine is doing (its latest step). eventPrinter redraws it after every
// event and clears it before printing a line, so the finished lines scroll
// above it as usual. It is shown only when stdout is a terminal and the
// output is not --json.
type liveStatus struct {
	total                 int
	done, failed, skipped int
	running               map[string]string // address -> latest step
	nix                   nixCounts         // derivations built and to build
	drawn                 bool
	width                 int
}

func newLiveStatus(p *plan.Plan, width int) *liveStatus {
	if width <= 20 {
		width = 80
	}
	s := &liveStatus{running: map[string]string{}, width: width - 1}
	for _, r := range p.Resources {
		if r.Action != plan.Noop {
			s.total++
		}
	}
	for _, m := range p.Machines {
		if m.Action.Runs() {
			s.total++
		}
	}
	return s
}

func (s *liveStatus) update(ev engine.Event) {
	if ev.Kind == engine.EventNix {
		s.nix.update(ev.Nix)
	}
	if ev.Addr == "" || plan.IsGateAddr(ev.Addr) {
		return
	}
	switch ev.Kind {
	case engine.EventStart:
		s.running[ev.Addr] = string(ev.Action)
	case engine.EventProgress:
		if _, ok := s.running[ev.Addr]; ok {
			s.running[ev.Addr] = ev.Message
		}
	case engine.EventNix:
		if _, ok := s.running[ev.Addr]; ok && ev.Nix.Kind == nix.LogBuildStart {
			s.running[ev.Addr] = "building " + drvName(ev.Nix.Drv)
		}
	case engine.EventDone:
		s.done++
		delete(s.running, ev.Addr)
	case engine.EventFailed:
		s.failed++
		delete(s.running, ev.Addr)
	case engine.EventSkipped, engine.EventCancelled:
		s.skipped++
	}
}

// line is the status line, cut to the terminal's width.
func (s *liveStatus) line() string {
	var b strings.Builder
	fmt.Fprintf(&b, "[%d/%d done", s.done, s.total)
	if s.failed > 0 {
		fmt.Fprintf(&b, ", %d failed", s.failed)
	}
	if s.skipped > 0 {
		fmt.Fprintf(&b, ", %d skipped", s.skipped)
	}
	fmt.Fprintf(&b, ", %d running]", len(s.running))
	if s.nix.seen {
		fmt.Fprintf(&b, "  nix: %s", s.nix.text())
	}
	addrs := make([]string, 0, len(s.running))
	for a := range s.running {
		addrs = append(addrs, a)
	}
	sort.Strings(addrs)
	for _, a := range addrs {
		if strings.HasPrefix(a, "machine.") {
			fmt.Fprintf(&b, "  %s: %s", strings.TrimPrefix(a, "machine."), s.running[a])
		}
	}
	line := b.String()
	if r := []rune(line); len(r) > s.width {
		line = string(r[:s.width-1]) + "…"
	}
	return line
}

// clearLine is what erases the status line: back to column 0, erase it.
const clearLine = "\r\x1b[2K"
