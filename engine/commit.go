package engine

import (
	"context"
	"sync"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

// committer records completed operations durably with group commit: every
// change waiting when a write starts goes into the same journal segment, so
// the cost of durability grows with the number of writes, not operations.
type committer struct {
	journal *statestore.Journal
	reqs    chan commitReq
	done    chan struct{}

	mu  sync.Mutex
	cur *state.State // the state as recorded so far
	err error        // first write error: later commits fail fast
}

type commitReq struct {
	change state.Change
	done   chan error
}

func newCommitter(j *statestore.Journal, base *state.State) *committer {
	c := &committer{journal: j, reqs: make(chan commitReq, 1024), done: make(chan struct{}), cur: base.Clone()}
	go c.loop()
	return c
}

// commit records ch and returns once it is durable.
func (c *committer) commit(ch state.Change) error {
	done := make(chan error, 1)
	c.reqs <- commitReq{change: ch, done: done}
	return <-done
}

func (c *committer) loop() {
	defer close(c.done)
	ctx := context.Background() // recording must finish even when apply is interrupted
	for req := range c.reqs {
		batch := []commitReq{req}
	drain:
		for {
			select {
			case r, ok := <-c.reqs:
				if !ok {
					break drain
				}
				batch = append(batch, r)
			default:
				break drain
			}
		}
		changes := make([]state.Change, len(batch))
		for i, r := range batch {
			changes[i] = r.change
		}
		c.mu.Lock()
		err := c.err
		c.mu.Unlock()
		if err == nil {
			err = c.journal.Append(ctx, changes)
		}
		c.mu.Lock()
		if err != nil && c.err == nil {
			c.err = err
		}
		if err == nil {
			for _, ch := range changes {
				c.cur.ApplyChange(ch)
			}
		}
		c.mu.Unlock()
		for _, r := range batch {
			r.done <- err
		}
	}
}

// close stops the committer after every pending commit is written and
// returns the recorded state.
func (c *committer) close() (*state.State, error) {
	close(c.reqs)
	<-c.done
	// Nothing is appended after this; the final snapshot supersedes the
	// journal, so a failure to close it does not fail the apply.
	_ = c.journal.Close()
	return c.cur, c.err
}

// current runs f on the state as recorded so far, under the committer's
// lock.
func (c *committer) current(f func(*state.State) bool) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return f(c.cur)
}
