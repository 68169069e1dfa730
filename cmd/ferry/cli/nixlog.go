package cli

import (
	"fmt"
	"strings"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/providers/nix"
)

// Rendering what Nix reports while it evaluates and builds
// (engine.EventNix), one line per event worth a line, prefixed by the
// machine it works for ("web> building /nix/store/...-foo.drv"), or by
// "build> " for a derivation several machines need. Without -v: builds
// starting and failing, substitutions, copies and Nix's warnings; the
// counts of derivations built and to build are in the live status line on
// a terminal, and at the end of each "building" line otherwise. With -v:
// everything, including every build's log lines
// ("web> hello-2.12> ...") and each machine's evaluation starting.

// nixCounts are the latest counts of derivations Nix reported.
type nixCounts struct {
	seen                            bool
	done, expected, running, failed int
}

func (n *nixCounts) update(ev *nix.LogEvent) {
	if ev.Kind == nix.LogProgress {
		*n = nixCounts{seen: true, done: ev.Done, expected: ev.Expected, running: ev.Running, failed: ev.Failed}
	}
}

// text is "3/12 derivations built, 2 running, 1 failed".
func (n nixCounts) text() string {
	s := fmt.Sprintf("%d/%d derivations built", n.done, n.expected)
	if n.running > 0 {
		s += fmt.Sprintf(", %d running", n.running)
	}
	if n.failed > 0 {
		s += fmt.Sprintf(", %d failed", n.failed)
	}
	return s
}

// nixLine is the line an EventNix prints, "" for none.
func (p *eventPrinter) nixLine(ev engine.Event) string {
	n := ev.Nix
	who := "build"
	if ev.Addr != "" {
		who = strings.TrimPrefix(ev.Addr, "machine.")
	}
	switch n.Kind {
	case nix.LogBuildStart:
		line := fmt.Sprintf("%s> building %s", who, n.Drv)
		if p.live == nil && p.counts.seen {
			line += " (" + p.counts.text() + ")"
		}
		return line
	case nix.LogBuildFailed:
		return fmt.Sprintf("%s> %sbuild of %s failed%s: %s", who, p.c.red, n.Drv, p.c.reset, n.Text)
	case nix.LogSubstitute, nix.LogCopy:
		return fmt.Sprintf("%s> %s", who, n.Text)
	case nix.LogMessage:
		if n.Level == nix.LevelWarn || p.verbose {
			return fmt.Sprintf("%s> %s", who, indentAfterFirst(n.Text, len(who)+2))
		}
	}
	if !p.verbose {
		return ""
	}
	switch n.Kind {
	case nix.LogEvaluating:
		return fmt.Sprintf("%s> evaluating", who)
	case nix.LogBuildLine:
		return fmt.Sprintf("%s> %s> %s", who, drvName(n.Drv), n.Text)
	case nix.LogBuildDone:
		return fmt.Sprintf("%s> built %s", who, n.Drv)
	case nix.LogActivity:
		return fmt.Sprintf("%s> %s", who, n.Text)
	}
	return ""
}

// drvName is a derivation's name: /nix/store/HASH-hello-2.12.drv is
// hello-2.12.
func drvName(drv string) string {
	base := strings.TrimSuffix(drv[strings.LastIndexByte(drv, '/')+1:], ".drv")
	if _, name, ok := strings.Cut(base, "-"); ok {
		return name
	}
	return base
}

func indentAfterFirst(s string, n int) string {
	return strings.ReplaceAll(s, "\n", "\n"+strings.Repeat(" ", n))
}
