package nix

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/nixferry/ferry/providers/nix/nixtest"
)

// replay writes a recorded stream into a logStream in uneven pieces, as a
// pipe would, and returns the events it sent.
func replay(t *testing.T, file string, tail int) (*logStream, []LogEvent) {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var evs []LogEvent
	s := newLogStream(func(ev LogEvent) { evs = append(evs, ev) }, tail)
	for len(data) > 0 {
		n := min(len(data), 97)
		if _, err := s.Write(data[:n]); err != nil {
			t.Fatal(err)
		}
		data = data[n:]
	}
	return s, evs
}

func TestLogStreamBuild(t *testing.T) {
	const (
		bad = "/nix/store/494ic0acdvw1q50f1iny9jzk35ygxf7r-bad-14642.drv"
		dep = "/nix/store/kl7hsxsliln93swlx8psvqibifw5qxq7-dep-14642.drv"
		top = "/nix/store/bz4d4ipbd8n78zfwkyid89zsh5bwd2zl-top-14642.drv"
	)
	s, evs := replay(t, "testdata/nixlog/build-keep-going.jsonl", 20)

	var got []string
	lines := map[string][]string{}
	var last LogEvent
	for _, ev := range evs {
		switch ev.Kind {
		case LogBuildStart, LogBuildDone, LogBuildFailed:
			got = append(got, fmt.Sprintf("%s %s %s", ev.Kind, ev.Drv, ev.Text))
		case LogBuildLine:
			lines[ev.Drv] = append(lines[ev.Drv], ev.Text)
		case LogProgress:
			last = ev
		}
	}
	want := []string{
		"build " + bad + " building '" + bad + "'",
		"build " + dep + " building '" + dep + "'",
		"built " + dep + " ",
		"build " + top + " building '" + top + "'",
		"built " + top + " ",
		"built " + bad + " ",
		"build_failed " + bad + " builder failed with exit code 3",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("build events (-want +got):\n%s", diff)
	}
	if diff := cmp.Diff([]string{"dep line 1", "dep line 2", "dep line 3", "to-stderr"}, lines[dep]); diff != "" {
		t.Errorf("dep's log (-want +got):\n%s", diff)
	}
	if len(lines[bad]) != 30 {
		t.Errorf("bad's log has %d lines, want 30", len(lines[bad]))
	}
	if want := (LogEvent{Kind: LogProgress, Done: 2, Expected: 2, Failed: 1}); last != want {
		t.Errorf("last count: got %+v, want %+v", last, want)
	}

	tail, ok := s.Tail(bad)
	wantTail := make([]string, 0, 20)
	for i := 11; i <= 30; i++ {
		wantTail = append(wantTail, fmt.Sprintf("bad line %d", i))
	}
	if diff := cmp.Diff(strings.Join(wantTail, "\n"), tail); !ok || diff != "" {
		t.Errorf("tail of bad (-want +got):\n%s", diff)
	}
	if _, ok := s.Tail("/nix/store/x-never-built.drv"); ok {
		t.Error("a tail for a derivation that never built")
	}

	// The transcript reads as Nix's plain output: what errors are parsed
	// from.
	transcript := string(s.Transcript())
	for _, want := range []string{"these 3 derivations will be built:\n", "error: builder for '" + bad + "' failed with exit code 3\n"} {
		if !strings.Contains(transcript, want) {
			t.Errorf("transcript lacks %q:\n%s", want, transcript)
		}
	}
	if strings.Contains(transcript, "\x1b") || strings.Contains(transcript, "@nix") || strings.Contains(transcript, "bad line") {
		t.Errorf("transcript has colours, the stream or build logs:\n%s", transcript)
	}
	if got := parseFailedBuilders(transcript); !cmp.Equal(got, map[string]string{bad: "builder failed with exit code 3"}) {
		t.Errorf("failed builders from the transcript: %v", got)
	}
}

func TestLogStreamEvalError(t *testing.T) {
	s, evs := replay(t, "testdata/nixlog/eval-error.jsonl", 0)
	var msgs []string
	for _, ev := range evs {
		if ev.Kind != LogMessage {
			t.Errorf("unexpected event %+v", ev)
		}
		msgs = append(msgs, ev.Text)
	}
	if len(msgs) != 5 || msgs[1] != "trace: multi\nline" {
		t.Errorf("messages: %q", msgs)
	}
	transcript := s.Transcript()
	trace := scanEvalStderr(transcript)
	if diff := cmp.Diff([]string{"hello trace", "multi\nline", "hello trace", "multi\nline"}, trace.warnings[""]); diff != "" {
		t.Errorf("traces (-want +got):\n%s", diff)
	}
	msg := nixMessage(string(transcript))
	if !strings.HasPrefix(msg, "boom here\n\n… while evaluating 'f'\n\nat /tmp/ij/e.nix:1:9:") {
		t.Errorf("Nix's message from the transcript:\n%s", msg)
	}
}

func TestLogStreamLinesOutsideTheStream(t *testing.T) {
	var evs []LogEvent
	s := newLogStream(func(ev LogEvent) { evs = append(evs, ev) }, 20)
	fmt.Fprint(s, "plain line\n@nix {not json\n@nix {\"action\":\"msg\",\"level\":1,\"msg\":\"\\u001b[35;1mwarning:\\u001b[0m careful\"}\nno newline")
	want := []LogEvent{
		{Kind: LogMessage, Level: LevelInfo, Text: "plain line"},
		{Kind: LogMessage, Level: LevelInfo, Text: "@nix {not json"},
		{Kind: LogMessage, Level: LevelWarn, Text: "warning: careful"},
	}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if got := string(s.Transcript()); got != "plain line\n@nix {not json\nwarning: careful\nno newline\n" {
		t.Errorf("transcript: %q", got)
	}
}

func TestMachineEvents(t *testing.T) {
	var evs []LogEvent
	emit := machineEvents(func(ev LogEvent) { evs = append(evs, ev) })
	s := newLogStream(emit, 0)
	fmt.Fprintf(s, "@nix {\"action\":\"msg\",\"level\":0,\"msg\":\"trace: %s\\\"web\\\"\"}\n", machineMarker)
	fmt.Fprint(s, "@nix {\"action\":\"msg\",\"level\":0,\"msg\":\"trace: a warning\"}\n")
	want := []LogEvent{
		{Kind: LogEvaluating, Level: LevelInfo, Machine: "web", Text: "evaluating"},
		{Kind: LogMessage, Level: LevelError, Machine: "web", Text: "trace: a warning"},
	}
	if diff := cmp.Diff(want, evs); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
	if machineEvents(nil) != nil {
		t.Error("machineEvents(nil) sends events")
	}
}

func TestEvaluateStreamsMachines(t *testing.T) {
	n := testNix(t)
	var mu sync.Mutex
	var got []string
	_, err := n.Evaluate(context.Background(), EvalOptions{
		Nixpkgs: nixtest.NixpkgsPath(),
		Machines: []Machine{
			{Name: "db", Modules: []Module{{Inline: `{ warnings = [ "db is slow" ]; }`}}},
			{Name: "web", Modules: []Module{{Inline: "{ }"}}},
		},
		OnLog: func(ev LogEvent) {
			mu.Lock()
			defer mu.Unlock()
			got = append(got, fmt.Sprintf("%s %s: %s", ev.Kind, ev.Machine, ev.Text))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"evaluating db: evaluating", "message db: trace: warning: db is slow", "evaluating web: evaluating"}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("events (-want +got):\n%s", diff)
	}
}
