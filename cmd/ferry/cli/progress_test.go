package cli

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/plan"
)

// TestLiveStatus: on a terminal, apply's output ends with a status line
// that is erased before each printed line and redrawn after it, and
// erased for good at the end.
func TestLiveStatus(t *testing.T) {
	p := &plan.Plan{
		Resources: []*plan.Resource{{Addr: "null.resource.a", Action: plan.Create}, {Addr: "null.resource.b", Action: plan.Noop}},
		Machines:  []*plan.Machine{{Addr: "machine.web", Name: "web", Action: plan.Deploy}, {Addr: "machine.db", Name: "db", Action: plan.Deploy}},
	}
	var out bytes.Buffer
	pr := &eventPrinter{w: &out, live: newLiveStatus(p, 100)}
	pr.event(engine.Event{Kind: engine.EventStart, Addr: "machine.web", Action: plan.Deploy})
	pr.event(engine.Event{Kind: engine.EventStart, Addr: "machine.db", Action: plan.Deploy})
	pr.event(engine.Event{Kind: engine.EventProgress, Addr: "machine.web", Message: "copying 12 paths, 34.1 MiB"})
	if got := pr.live.line(); got != "[0/3 done, 2 running]  db: deploy  web: copying 12 paths, 34.1 MiB" {
		t.Errorf("status line = %q", got)
	}
	pr.event(engine.Event{Kind: engine.EventDone, Addr: "machine.web", Action: plan.Deploy, Duration: time.Second})
	pr.event(engine.Event{Kind: engine.EventFailed, Addr: "machine.db", Action: plan.Deploy, Message: "boom"})
	pr.finish()
	s := out.String()
	if !strings.HasSuffix(s, clearLine) {
		t.Errorf("output does not end by erasing the status line: %q", s)
	}
	if !strings.Contains(s, clearLine+"machine.web: deployed (1s)\n[1/3 done, 1 running]") {
		t.Errorf("a finished line is not printed over the erased status line and followed by the new status: %q", s)
	}
	if !strings.Contains(s, "[1/3 done, 1 failed, 0 running]") {
		t.Errorf("no status with the failure: %q", s)
	}
	// Cut to the width.
	pr.live.width = 59
	pr.live.running["machine.x"] = strings.Repeat("y", 200)
	if n := len([]rune(pr.live.line())); n != 59 {
		t.Errorf("status line is %d runes wide, want 59", n)
	}
}
