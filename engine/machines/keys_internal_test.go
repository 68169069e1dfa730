package machines

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// TestKeyCommandTimeout: a key command is bounded by its timeout even when
// a child keeps its output open, and its stdout (the secret) never reaches
// the error.
func TestKeyCommandTimeout(t *testing.T) {
	k := &spec.Key{Name: "slow", Command: []string{"sh", "-c", "printf SECRET-OUT; sleep 30 & sleep 30"}}
	start := time.Now()
	_, err := runKeyCommandWithin(context.Background(), "machine.web", k, 300*time.Millisecond)
	if took := time.Since(start); took > 3*time.Second {
		t.Errorf("the key command took %s, want it stopped after 300ms", took)
	}
	if err == nil || !strings.Contains(err.Error(), "key slow of machine.web: command sh failed: no answer within 300ms") {
		t.Errorf("error = %v", err)
	}
	if err != nil && strings.Contains(err.Error(), "SECRET-OUT") {
		t.Errorf("the command's output is in the error: %v", err)
	}
	out, err := runKeyCommandWithin(context.Background(), "machine.web", &spec.Key{Name: "ok", Command: []string{"printf", "s3cr3t"}}, time.Second)
	if err != nil || string(out) != "s3cr3t" {
		t.Errorf("ok command: %q, %v", out, err)
	}
}
