package statestore

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/nixferry/ferry/engine/state"
	"golang.org/x/sync/errgroup"
)

// Journal records the operations an apply completes, on top of the
// snapshot it started from, so that a crash loses none of them: the next
// Read replays them. Each Append is one small object (a group commit).
// The apply ends with a Write of serial base+1, which makes the journal
// stale.
type Journal struct {
	s          *Store
	deployment string
	dir        string

	mu   sync.Mutex
	next uint64 // sequence number of the next segment
}

// OpenJournal starts (or, after a crash, continues) the journal on top of
// base, which must be the deployment's current state as Read returned it:
// its serial and lineage must be the latest snapshot's, else a
// *ConflictError. It needs the deployment's lock.
func (s *Store) OpenJournal(ctx context.Context, l *Lock, base *state.State) (*Journal, error) {
	dep, err := l.owned(s)
	if err != nil {
		return nil, err
	}
	serial, lineage, err := s.latest(ctx, dep)
	if err != nil {
		return nil, err
	}
	if serial != base.Serial || (serial > 0 && lineage != base.Lineage) {
		return nil, &ConflictError{Deployment: dep, LatestSerial: serial, LatestLineage: lineage, ReadSerial: base.Serial, ReadLineage: base.Lineage}
	}
	dir := journalBaseDir(dep, lineage, serial)
	es, err := s.b.list(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list journal %s: %w", s.b.objectURL(dir), err)
	}
	j := &Journal{s: s, deployment: dep, dir: dir, next: 1}
	for _, e := range es {
		if n, ok := parseSegmentName(e.name); ok && !e.dir && n >= j.next {
			j.next = n + 1
		}
	}
	return j, nil
}

// Append durably records changes as the next segment before it returns.
// An empty batch writes nothing. Appends are serialised.
func (j *Journal) Append(ctx context.Context, changes []state.Change) error {
	if len(changes) == 0 {
		return nil
	}
	data, err := state.EncodeChanges(changes)
	if err != nil {
		return err
	}
	j.mu.Lock()
	defer j.mu.Unlock()
	key := j.dir + segmentName(j.next)
	switch err := j.s.create(ctx, key, data, false); {
	case errors.Is(err, errExists):
		return fmt.Errorf("journal segment %s already exists: another run is applying to deployment %q; stop one of them, then run `ferry plan`", j.s.b.objectURL(key), j.deployment)
	case err != nil:
		return fmt.Errorf("record completed operations in %s: %w", j.s.b.objectURL(key), err)
	}
	j.next++
	return nil
}

// replay applies, in order, the journal segments whose base is st.
func (s *Store) replay(ctx context.Context, deployment string, st *state.State, info *ReadInfo) error {
	dir := journalBaseDir(deployment, st.Lineage, st.Serial)
	es, err := s.b.list(ctx, dir)
	if err != nil {
		return fmt.Errorf("list journal %s: %w", s.b.objectURL(dir), err)
	}
	var keys []string
	for _, e := range es {
		seq, ok := parseSegmentName(e.name)
		if !ok || e.dir {
			continue
		}
		if want := uint64(len(keys)) + 1; seq != want {
			return fmt.Errorf("journal segment %s is missing: the operations it recorded are in no snapshot; check the resources, then repair state with `ferry state history` and `ferry state push`", s.b.objectURL(dir+segmentName(want)))
		}
		keys = append(keys, dir+e.name)
	}
	if len(keys) == 0 {
		return nil
	}
	segs := make([][]byte, len(keys))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i, key := range keys {
		g.Go(func() error {
			data, err := s.b.get(gctx, key)
			if err != nil && !errors.Is(err, errNotFound) {
				err = fmt.Errorf("read journal segment %s: %w", s.b.objectURL(key), err)
			}
			segs[i] = data
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}
	for i, data := range segs {
		changes, err := state.DecodeChanges(s.b.objectURL(keys[i]), data)
		if err != nil {
			return fmt.Errorf("%w; it holds operations of an interrupted apply that are in no snapshot: check the resources, then repair state with `ferry state history` and `ferry state push`", err)
		}
		for _, c := range changes {
			st.ApplyChange(c)
		}
		info.JournalChanges += len(changes)
	}
	info.JournalSegments = len(keys)
	return nil
}
