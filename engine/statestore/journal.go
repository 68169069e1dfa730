package statestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"sync"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore/sealed"
	"golang.org/x/sync/errgroup"
)

// Journal records the operations an apply completes, on top of the
// snapshot it started from, so that a crash loses none of them: the next
// Read replays them. The apply ends with a Write of serial base+1, which
// makes the journal stale.
//
// Each Append is one group commit. On a bucket it is one small object; on
// file:// the Appends of one Journal go to one segment file, one write(2)
// each (see doc.go).
type Journal struct {
	s          *Store
	deployment string
	dir        string
	base       string // journalBaseName: what sealed records are bound to

	mu   sync.Mutex
	next uint64  // sequence number of the next segment
	log  *dirLog // file://: the open segment, whose number is next-1
}

// OpenJournal starts (or, after a crash, continues) the journal on top of
// base, which must be the deployment's current state as Read returned it:
// its serial and lineage must be the latest snapshot's, else a
// *ConflictError. It needs the deployment's lock. Close the Journal when
// the apply is done.
//
// It deletes the journals of superseded bases that a killed run left
// behind (see dropSupersededJournals), so that they do not wait for the
// apply's final Write, which a failing apply never makes.
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
	s.dropSupersededJournals(ctx, dep, lineage, serial)
	dir := journalBaseDir(dep, lineage, serial)
	es, err := s.b.list(ctx, dir)
	if err != nil {
		return nil, fmt.Errorf("list journal %s: %w", s.b.objectURL(dir), err)
	}
	j := &Journal{s: s, deployment: dep, dir: dir, base: journalBaseName(lineage, serial), next: 1}
	for _, e := range es {
		if n, ok := parseSegmentName(e.name); ok && !e.dir && n >= j.next {
			j.next = n + 1
		}
	}
	return j, nil
}

// Append durably records changes before it returns: on a bucket, stored;
// on file://, in the kernel, which outlives a crashed ferry (not a power
// loss). An empty batch writes nothing. Appends are serialised.
func (j *Journal) Append(ctx context.Context, changes []state.Change) error {
	if len(changes) == 0 {
		return nil
	}
	rec, err := state.EncodeChanges(changes)
	if err != nil {
		return err
	}
	// Sealed, a record is still one line: a segment on file:// is read
	// line by line.
	if rec, err = j.s.seal(ctx, kindJournal, map[string]string{"base": j.base}, rec); err != nil {
		return fmt.Errorf("record completed operations of deployment %q: %w", j.deployment, err)
	}
	rec = append(rec, '\n')
	j.mu.Lock()
	defer j.mu.Unlock()
	if d, ok := j.s.b.(*dirBackend); ok {
		return j.appendLog(d, rec)
	}
	key := j.dir + segmentName(j.next)
	switch err := j.s.create(ctx, key, rec, false); {
	case errors.Is(err, errExists):
		return j.anotherRun(key)
	case err != nil:
		return fmt.Errorf("record completed operations in %s: %w", j.s.b.objectURL(key), err)
	}
	j.next++
	return nil
}

func (j *Journal) appendLog(d *dirBackend, rec []byte) error {
	if j.log == nil {
		key := j.dir + segmentName(j.next)
		log, err := d.createLog(key)
		switch {
		case errors.Is(err, errExists):
			return j.anotherRun(key)
		case err != nil:
			return fmt.Errorf("record completed operations in %s: %w", d.objectURL(key), err)
		}
		j.log = log
		j.next++
	} else if key := j.dir + segmentName(j.next); fileExists(d.path(key)) {
		// Another run opened a journal on this base after this one.
		return j.anotherRun(key)
	}
	key := j.dir + segmentName(j.next-1)
	if err := j.log.append(rec); err != nil {
		_ = j.log.close()
		j.log = nil // the next Append starts a new segment
		return fmt.Errorf("record completed operations in %s: %w", d.objectURL(key), err)
	}
	j.s.written.Add(int64(len(rec)))
	return nil
}

func fileExists(p string) bool {
	_, err := os.Lstat(p)
	return err == nil
}

func (j *Journal) anotherRun(key string) error {
	return fmt.Errorf("journal segment %s already exists: another run is applying to deployment %q; stop one of them, then run `ferry plan`", j.s.b.objectURL(key), j.deployment)
}

// Close ends the journal (on file://, closes its segment file). Appending
// after Close starts a new segment.
func (j *Journal) Close() error {
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.log == nil {
		return nil
	}
	err := j.log.close()
	j.log = nil
	return err
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
	addrs := map[string]bool{}
	base := journalBaseName(st.Lineage, st.Serial)
	subject := fmt.Sprintf("journal of deployment %q in %s", deployment, s.url)
	for i, data := range segs {
		// On file:// the last segment may be growing while it is read
		// (on a bucket every segment is one object, written whole):
		// its last line, without its newline, is a record whose write(2)
		// has not completed, so not acknowledged either (an Append
		// returns only after the whole line, newline last, is written).
		// It is not there yet, and is not damage.
		if _, ok := s.b.(*dirBackend); ok && i == len(segs)-1 {
			data = data[:bytes.LastIndexByte(data, '\n')+1]
		}
		// A segment holds one record per line (many on file://).
		for rec := range bytes.Lines(data) {
			if len(bytes.TrimSpace(rec)) == 0 {
				continue
			}
			rec, sh, err := s.open(ctx, subject, kindJournal, rec)
			if err == nil && sh != nil && sh.Attrs["base"] != base {
				err = &sealed.Error{Reason: sealed.Damaged, Subject: subject, Header: *sh, Err: fmt.Errorf("its record belongs to the journal on %s, not %s", sh.Attrs["base"], base)}
			}
			switch {
			case damaged(err):
				return fmt.Errorf("journal segment %s is corrupted (%s); it holds operations of an interrupted apply that are in no snapshot: check the resources, then repair state with `ferry state history` and `ferry state push`", s.b.objectURL(keys[i]), damage(err))
			case err != nil:
				return err // sealed with a key this run lacks: not damaged
			}
			changes, err := state.DecodeChanges(s.b.objectURL(keys[i]), rec)
			if err != nil {
				return fmt.Errorf("%w; it holds operations of an interrupted apply that are in no snapshot: check the resources, then repair state with `ferry state history` and `ferry state push`", err)
			}
			for _, c := range changes {
				st.ApplyChange(c)
				addrs[c.Addr] = true
			}
			info.JournalChanges += len(changes)
			info.JournalSegments++
		}
	}
	if len(addrs) > 0 {
		info.JournalAddrs = slices.Sorted(maps.Keys(addrs))
	}
	return nil
}
