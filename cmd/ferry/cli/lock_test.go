package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"
)

// syncBuffer is a bytes.Buffer safe for a writer and a reader at once.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestPlanlessApplyHoldsTheLock: a plan-less apply holds the deployment's
// lock from before it plans until its apply is recorded, also while it
// asks for approval. A second apply started meanwhile waits for the lock
// (and says so) instead of planning against a state the first is about to
// replace; both succeed, each applying the plan it showed.
func TestPlanlessApplyHoldsTheLock(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "ferry.star"), []byte(`deployment(name = "race")
local.file(name = "out", path = "out.txt", content = var("v") + "\n")
`), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Setenv("FERRY_STATE", "file://"+filepath.Join(dir, ".ferry"))
	type result struct {
		code           int
		stdout, stderr *syncBuffer
	}
	start := func(stdin io.Reader, args ...string) (*result, chan struct{}) {
		r := &result{stdout: &syncBuffer{}, stderr: &syncBuffer{}}
		done := make(chan struct{})
		go func() {
			defer close(done)
			r.code = Main(context.Background(), append([]string{"-C", dir}, args...),
				IO{Stdin: stdin, Stdout: r.stdout, Stderr: r.stderr, LookupEnv: os.LookupEnv})
		}()
		return r, done
	}
	waitFor := func(what string, cond func() bool, done ...chan struct{}) {
		t.Helper()
		deadline := time.After(60 * time.Second)
		for !cond() {
			select {
			case <-deadline:
				t.Fatalf("timed out waiting for %s", what)
			case <-time.After(5 * time.Millisecond):
			}
		}
	}

	answer, answerW := io.Pipe()
	first, firstDone := start(answer, "apply", "--var", "v=first")
	waitFor("the first apply's question", func() bool { return strings.Contains(first.stdout.String(), "Enter a value:") })

	second, secondDone := start(strings.NewReader(""), "apply", "--auto-approve", "--lock-timeout", "60s", "--var", "v=second")
	finished := func() bool {
		select {
		case <-secondDone:
			return true
		default:
			return false
		}
	}
	waitFor("the second apply to wait or finish", func() bool {
		return finished() || strings.Contains(second.stderr.String(), "waiting up to 1m0s for the lock")
	})
	if finished() {
		t.Fatalf("the second apply ran while the first one waited for approval (exit %d):\n%s\n%s", second.code, second.stdout, second.stderr)
	}
	if _, err := answerW.Write([]byte("yes\n")); err != nil {
		t.Fatal(err)
	}
	<-firstDone
	<-secondDone
	if first.code != 0 || second.code != 0 {
		t.Fatalf("exit statuses %d and %d, want 0 and 0\nfirst:\n%s\n%s\nsecond:\n%s\n%s", first.code, second.code, first.stdout, first.stderr, second.stdout, second.stderr)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "out.txt")); string(got) != "second\n" {
		t.Errorf("out.txt = %q, want the second apply's content", got)
	}
}
