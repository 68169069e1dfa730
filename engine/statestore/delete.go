package statestore

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"golang.org/x/sync/errgroup"
)

// DeleteDeployment removes every object of l's deployment (plan key,
// hint, snapshots, journals, anything else under its folder and, on
// file://, dead runs' temporary files) and then its lock, which leaves l
// released. Whether the deployment may go is the caller's decision (it
// may still have resources); this only deletes.
//
// The order keeps the deployment readable at every step, so that a run
// killed midway leaves either the deployment as it was (less its plan key
// and history) or, once the latest snapshot is gone, nothing, never an
// older state passed off as the current one:
//
//  1. the plan key, so that no outstanding plan can be applied any more;
//  2. the hint (Read falls back to listing);
//  3. journals of other bases than the latest snapshot's (Read ignores
//     them; were a stale "none" journal left, Read would replay it once
//     the snapshots are gone);
//  4. every snapshot but the latest (Read still finds the latest);
//  5. the latest snapshot: from here on Read finds an empty deployment.
//     Without any snapshot, the journal on "none" is the deployment's
//     state; its segments go from the last to the first, so that what
//     remains is still a readable prefix;
//  6. the rest: the latest snapshot's journal, unknown objects, temporary
//     files of dead runs;
//  7. the lock, if it is still this run's.
//
// On a failure it stops and says what it could not remove; running it
// again finishes the job. The host-local mutex file beside the state
// folder (file://, see breakStale) stays: removing a flock file races with
// its users, and it holds nothing.
func (s *Store) DeleteDeployment(ctx context.Context, l *Lock) error {
	dep, err := l.owned(s)
	if err != nil {
		return err
	}
	// A lock broken since it was taken means another run may be using the
	// deployment: delete nothing.
	cur, err := s.readLock(ctx, dep)
	switch {
	case errors.Is(err, errNotFound):
		l.released.Store(true)
		return fmt.Errorf("lock %s of deployment %q was removed (by \"ferry unlock\"?); nothing deleted", l.Info.ID, dep)
	case err != nil:
		return fmt.Errorf("%w; nothing deleted", err)
	case cur.ID != l.Info.ID:
		l.released.Store(true)
		return fmt.Errorf("lock of deployment %q is held by %s with ID %s, not by this run (ID %s): it was broken; nothing deleted", dep, cur.Who, cur.ID, l.Info.ID)
	}
	failed := func(key string, err error) error {
		return fmt.Errorf("delete deployment %q: remove %s: %w; what is left is still readable: run the delete again", dep, s.b.objectURL(key), err)
	}
	for _, key := range []string{PlanKeyKey(dep), hintKey(dep)} {
		if err := s.b.remove(ctx, key); err != nil {
			return failed(key, err)
		}
	}

	es, err := s.b.list(ctx, dep+"/"+stateDir)
	if err != nil {
		return failed(dep+"/"+stateDir, err)
	}
	var serials []uint64
	for _, e := range es {
		if n, ok := parseSnapshotName(e.name); ok && !e.dir {
			serials = append(serials, n)
		}
	}
	slices.Sort(serials)
	var latest uint64
	if len(serials) > 0 {
		latest = serials[len(serials)-1]
		serials = serials[:len(serials)-1]
	}

	journals := dep + "/" + journalDir
	es, err = s.b.list(ctx, journals)
	if err != nil {
		return failed(journals, err)
	}
	for _, e := range es {
		if _, base, ok := parseJournalBaseName(e.name); e.dir && (!ok || base != latest) {
			if err := s.b.removeAll(ctx, journals+e.name+"/"); err != nil {
				return failed(journals+e.name+"/", err)
			}
		}
	}

	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(deleteConcurrency)
	for _, n := range serials {
		g.Go(func() error {
			if err := s.b.remove(gctx, SnapshotKey(dep, n)); err != nil {
				return failed(SnapshotKey(dep, n), err)
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return err
	}

	if latest > 0 {
		if err := s.b.remove(ctx, SnapshotKey(dep, latest)); err != nil {
			return failed(SnapshotKey(dep, latest), err)
		}
	} else if err := s.removeSegmentsBackwards(ctx, journalBaseDir(dep, "", 0)); err != nil {
		return fmt.Errorf("delete deployment %q: %w; what is left is still readable: run the delete again", dep, err)
	}

	es, err = s.b.list(ctx, dep+"/")
	if err != nil {
		return failed(dep+"/", err)
	}
	for _, e := range es {
		key := dep + "/" + e.name
		var err error
		switch {
		case e.dir:
			err = s.b.removeAll(ctx, key+"/")
		case e.name != lockName:
			err = s.b.remove(ctx, key)
		}
		if err != nil {
			return failed(key, err)
		}
	}
	s.b.sweep(ctx, dep)
	if err := l.Release(ctx); err != nil {
		return fmt.Errorf("delete deployment %q: its objects are gone but its lock: %w", dep, err)
	}
	return nil
}

// removeSegmentsBackwards removes the segments of the journal in dir from
// the last to the first (Read needs them numbered from 1 without a gap),
// then whatever else is in dir.
func (s *Store) removeSegmentsBackwards(ctx context.Context, dir string) error {
	es, err := s.b.list(ctx, dir)
	if err != nil {
		return fmt.Errorf("list journal %s: %w", s.b.objectURL(dir), err)
	}
	var seqs []uint64
	for _, e := range es {
		if n, ok := parseSegmentName(e.name); ok && !e.dir {
			seqs = append(seqs, n)
		}
	}
	slices.Sort(seqs)
	for _, n := range slices.Backward(seqs) {
		if err := s.b.remove(ctx, dir+segmentName(n)); err != nil {
			return fmt.Errorf("remove %s: %w", s.b.objectURL(dir+segmentName(n)), err)
		}
	}
	if err := s.b.removeAll(ctx, dir); err != nil {
		return fmt.Errorf("remove %s: %w", s.b.objectURL(dir), err)
	}
	return nil
}
