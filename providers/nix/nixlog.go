package nix

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strings"
	"sync"
)

// What Nix reports as it runs, read from its --log-format internal-json
// stream (Nix 2.8 and later): every line Nix writes to stderr is
// "@nix {json}", an action (msg, start, stop, result) with an activity id
// and type. Build and evaluate pass the flag to every nix-store --realise
// and nix-instantiate --eval they run, decode the stream as it comes
// (logStream) and hand the caller LogEvents; the plain text Nix would have
// printed is rebuilt from the messages (the transcript), so errors read as
// before.

// LogKind says what a LogEvent reports.
type LogKind string

const (
	LogMessage     LogKind = "message"      // Nix printed a message; Level says how loud
	LogEvaluating  LogKind = "evaluating"   // evaluation of Machine started
	LogBuildStart  LogKind = "build"        // the build of Drv started
	LogBuildLine   LogKind = "log"          // a line of Drv's build log
	LogBuildDone   LogKind = "built"        // the build of Drv ended (a failure also sends LogBuildFailed)
	LogBuildFailed LogKind = "build_failed" // Drv's builder failed; Text says how
	LogSubstitute  LogKind = "substitute"   // Path is fetched from a binary cache
	LogCopy        LogKind = "copy"         // Path is copied between stores
	LogActivity    LogKind = "activity"     // another activity Nix started; Text says what
	LogProgress    LogKind = "progress"     // the counts of derivations: Done, Expected, Running, Failed
)

// Nix's verbosity levels, as LogEvent.Level carries them.
const (
	LevelError  = 0
	LevelWarn   = 1
	LevelNotice = 2
	LevelInfo   = 3
)

// LogEvent is one thing Nix reported while it evaluated or built.
type LogEvent struct {
	Kind LogKind `json:"kind"`
	// Level is Nix's verbosity level of a message or activity (0 error,
	// 1 warning, 3 info, higher is chattier).
	Level int `json:"level"`
	// Machine is the machine being evaluated (evaluation only).
	Machine string `json:"machine,omitempty"`
	// Drv is the derivation a build event is about.
	Drv string `json:"drv,omitempty"`
	// Path is the store path a substitution or copy is about.
	Path string `json:"path,omitempty"`
	// Text is a build log line, Nix's message (without colours) or what an
	// activity does ("building '/nix/store/...drv'").
	Text string `json:"text,omitempty"`
	// Done, Expected, Running and Failed count derivations to build
	// (LogProgress).
	Done     int `json:"done,omitempty"`
	Expected int `json:"expected,omitempty"`
	Running  int `json:"running,omitempty"`
	Failed   int `json:"failed,omitempty"`
}

// Nix's activity and result types (src/libutil/logging.hh).
const (
	actCopyPath   = 100
	actBuilds     = 104
	actBuild      = 105
	actSubstitute = 108

	resBuildLogLine     = 101
	resProgress         = 105
	resPostBuildLogLine = 107
)

// logFormat are the arguments that make a Nix tool write the stream.
var logFormat = []string{"--log-format", "internal-json"}

// ansiEscape matches the colour codes Nix puts in its messages.
var ansiEscape = regexp.MustCompile("\x1b\\[[0-9;]*[A-Za-z]")

// logStream decodes Nix's internal-json stderr as it is written: it sends
// each event to emit, keeps the plain text Nix would have printed (the
// transcript) and the last lines of every build's log. Safe for one
// writer; emit is called from Write.
type logStream struct {
	emit     func(LogEvent) // nil: events are only counted into the transcript and tails
	tailSize int

	mu         sync.Mutex
	partial    []byte
	transcript bytes.Buffer
	activities map[uint64]activity
	tails      map[string][]string // drv -> last tailSize lines of its log
	progress   LogEvent
}

type activity struct {
	typ int
	drv string
}

func newLogStream(emit func(LogEvent), tailSize int) *logStream {
	return &logStream{emit: emit, tailSize: tailSize, activities: map[uint64]activity{}, tails: map[string][]string{}}
}

// Write takes the next bytes of stderr; complete lines are decoded.
func (s *logStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.partial = append(s.partial, p...)
	for {
		i := bytes.IndexByte(s.partial, '\n')
		if i < 0 {
			break
		}
		s.line(string(s.partial[:i]))
		s.partial = s.partial[i+1:]
	}
	return len(p), nil
}

// Transcript is what Nix would have printed without --log-format: its
// messages and any line outside the stream.
func (s *logStream) Transcript() []byte {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.partial) > 0 {
		s.line(string(s.partial))
		s.partial = nil
	}
	return bytes.Clone(s.transcript.Bytes())
}

// Tail returns the last lines of drv's build log seen in the stream.
func (s *logStream) Tail(drv string) (string, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	lines, ok := s.tails[drv]
	return strings.Join(lines, "\n"), ok
}

func (s *logStream) send(ev LogEvent) {
	if s.emit != nil {
		s.emit(ev)
	}
}

// rawLine is one "@nix" line as Nix 2.8 writes it.
type rawLine struct {
	Action string            `json:"action"`
	ID     uint64            `json:"id"`
	Level  int               `json:"level"`
	Type   int               `json:"type"`
	Text   string            `json:"text"`
	Msg    string            `json:"msg"`
	Fields []json.RawMessage `json:"fields"`
}

func (s *logStream) line(l string) {
	data, ok := strings.CutPrefix(l, "@nix ")
	var r rawLine
	if !ok || json.Unmarshal([]byte(data), &r) != nil {
		// Not the stream (a program writing to stderr itself): as is.
		s.transcript.WriteString(l + "\n")
		s.send(LogEvent{Kind: LogMessage, Level: LevelInfo, Text: l})
		return
	}
	switch r.Action {
	case "msg":
		text := ansiEscape.ReplaceAllString(r.Msg, "")
		s.transcript.WriteString(text + "\n")
		if m := builderFailed.FindStringSubmatch(text); m != nil {
			s.send(LogEvent{Kind: LogBuildFailed, Level: r.Level, Drv: m[1], Text: "builder " + m[2]})
			return
		}
		s.send(LogEvent{Kind: LogMessage, Level: r.Level, Text: text})
	case "start":
		a := activity{typ: r.Type}
		text := ansiEscape.ReplaceAllString(r.Text, "")
		switch r.Type {
		case actBuild:
			a.drv = field(r.Fields, 0)
			s.send(LogEvent{Kind: LogBuildStart, Level: r.Level, Drv: a.drv, Text: text})
		case actSubstitute:
			s.send(LogEvent{Kind: LogSubstitute, Level: r.Level, Path: field(r.Fields, 0), Text: text})
		case actCopyPath:
			s.send(LogEvent{Kind: LogCopy, Level: r.Level, Path: field(r.Fields, 0), Text: text})
		default:
			if text != "" {
				s.send(LogEvent{Kind: LogActivity, Level: r.Level, Text: text})
			}
		}
		s.activities[r.ID] = a
	case "stop":
		if a, ok := s.activities[r.ID]; ok && a.typ == actBuild {
			s.send(LogEvent{Kind: LogBuildDone, Drv: a.drv})
		}
		delete(s.activities, r.ID)
	case "result":
		a := s.activities[r.ID]
		switch {
		case r.Type == resBuildLogLine || r.Type == resPostBuildLogLine:
			text := field(r.Fields, 0)
			if a.drv != "" && s.tailSize > 0 {
				t := append(s.tails[a.drv], text)
				if len(t) > s.tailSize {
					t = t[len(t)-s.tailSize:]
				}
				s.tails[a.drv] = t
			}
			s.send(LogEvent{Kind: LogBuildLine, Level: LevelInfo, Drv: a.drv, Text: text})
		case r.Type == resProgress && a.typ == actBuilds:
			p := LogEvent{Kind: LogProgress, Done: intField(r.Fields, 0), Expected: intField(r.Fields, 1), Running: intField(r.Fields, 2), Failed: intField(r.Fields, 3)}
			if p != s.progress {
				s.progress = p
				s.send(p)
			}
		}
	}
}

func field(fields []json.RawMessage, i int) string {
	var s string
	if i < len(fields) {
		_ = json.Unmarshal(fields[i], &s)
	}
	return s
}

func intField(fields []json.RawMessage, i int) int {
	var n int
	if i < len(fields) {
		_ = json.Unmarshal(fields[i], &n)
	}
	return n
}
