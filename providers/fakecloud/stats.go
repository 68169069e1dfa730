package fakecloud

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"sync"

	"github.com/nixferry/ferry/providers"
	"github.com/nixferry/ferry/providers/checked"
)

// Stats counts the calls made to the fake API: what batching and
// concurrency limits are measured by.
type Stats struct {
	// Calls holds the number of calls by name ("fake.thing.describe").
	Calls map[string]int
	// Hanging holds the number of calls by name that started hanging on
	// an injected fault: a process that hangs there can be killed.
	Hanging map[string]int
	// MaxInFlight is the most calls that were in progress at once (calls
	// of this process only).
	MaxInFlight int
}

// Total is the number of calls of every name.
func (s Stats) Total() int {
	n := 0
	for _, c := range s.Calls {
		n += c
	}
	return n
}

// counter is the live count behind Stats.
type counter struct {
	mu          sync.Mutex
	calls       map[string]int
	hanging     map[string]int
	inFlight    int
	maxInFlight int
}

func newCounter() *counter { return &counter{calls: map[string]int{}, hanging: map[string]int{}} }

// begin counts a call that starts; end must follow.
func (c *counter) begin(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.calls[call]++
	c.inFlight++
	c.maxInFlight = max(c.maxInFlight, c.inFlight)
}

func (c *counter) hang(call string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.hanging[call]++
}

func (c *counter) end() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.inFlight--
}

func (c *counter) snapshot() Stats {
	c.mu.Lock()
	defer c.mu.Unlock()
	return Stats{Calls: maps.Clone(c.calls), Hanging: maps.Clone(c.hanging), MaxInFlight: c.maxInFlight}
}

// StatsOf returns the stats of the configuration that r, one of its
// resource types (wrapped by providers/checked or not), belongs to.
func StatsOf(r providers.Resource) (Stats, error) {
	if b, ok := checked.Unwrap(r).(interface{ cloud() *Cloud }); ok {
		return b.cloud().Stats(), nil
	}
	return Stats{}, fmt.Errorf("fake cloud: %T is not a resource type of the fake provider", r)
}

// DirStats counts the calls every process made on the folder dir, and
// those that started hanging (from DIR/calls.log and DIR/hangs.log): what
// a test of the ferry command reads after running it, or while it hangs.
func DirStats(dir string) (Stats, error) {
	calls, err := countLines(filepath.Join(dir, "calls.log"))
	if err != nil {
		return Stats{}, err
	}
	hanging, err := countLines(filepath.Join(dir, "hangs.log"))
	if err != nil {
		return Stats{}, err
	}
	return Stats{Calls: calls, Hanging: hanging}, nil
}

// countLines counts the lines of a log by their text; a missing log has
// none.
func countLines(path string) (map[string]int, error) {
	out := map[string]int{}
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return out, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fake cloud stats: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if line := sc.Text(); line != "" {
			out[line]++
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("fake cloud stats: %w", err)
	}
	return out, nil
}
