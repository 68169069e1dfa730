package statestore

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/nixferry/ferry/engine/state"
)

// ConflictError means the deployment's state is not the one this run read:
// another run wrote state in between (or state was pushed). Nothing was
// written.
type ConflictError struct {
	Deployment string
	// The store's latest snapshot; LatestLineage is "" when there is none
	// or it cannot be read.
	LatestSerial  uint64
	LatestLineage string
	// The state this run read and builds on (for Write, the serial below
	// the one it writes).
	ReadSerial  uint64
	ReadLineage string
}

func (e *ConflictError) Error() string {
	var what []string
	if e.LatestSerial != e.ReadSerial {
		what = append(what, fmt.Sprintf("its latest serial is %d, this run read serial %d", e.LatestSerial, e.ReadSerial))
	}
	if e.LatestLineage != "" && e.LatestLineage != e.ReadLineage {
		read := e.ReadLineage
		if read == "" {
			read = "none"
		}
		what = append(what, fmt.Sprintf("its lineage is %s, this run's is %s", e.LatestLineage, read))
	}
	if len(what) == 0 {
		what = append(what, "it changed")
	}
	return fmt.Sprintf("state of deployment %q changed since this run read it (%s): another run wrote state; re-run `ferry plan`", e.Deployment, strings.Join(what, "; "))
}

// corruptError is a snapshot that cannot be decoded.
type corruptError struct{ msg string }

func (e *corruptError) Error() string { return e.msg }

// Write stores st as the deployment's next snapshot, compare-and-swap:
// st.Serial must be the latest serial plus one (1 for the first) and
// st.Lineage the latest snapshot's, else a *ConflictError and nothing is
// written. Of two writers of one serial exactly one succeeds, with or
// without the lock. Write fills in st.Deployment, and st.Lineage for a
// deployment's first snapshot, when they are empty.
//
// A damaged latest snapshot has no readable lineage: Write then checks the
// serial only, so that `ferry state push` can repair it.
//
// Afterwards it updates the latest-snapshot hint and deletes stale journal
// segments, both best effort.
func (s *Store) Write(ctx context.Context, l *Lock, st *state.State) (err error) {
	dep, err := l.owned(s)
	if err != nil {
		return err
	}
	if st.Deployment != "" && st.Deployment != dep {
		return fmt.Errorf("state is for deployment %q but the lock is for %q; nothing written", st.Deployment, dep)
	}
	if st.Serial == 0 {
		return fmt.Errorf("state of deployment %q has serial 0; a written snapshot's serial is at least 1", dep)
	}
	latest, lineage, err := s.latest(ctx, dep)
	var ce *corruptError
	if errors.As(err, &ce) {
		err = nil // the lineage is unknown; the serial still decides
	}
	if err != nil {
		return err
	}
	if st.Serial != latest+1 || (lineage != "" && st.Lineage != lineage) {
		return &ConflictError{Deployment: dep, LatestSerial: latest, LatestLineage: lineage, ReadSerial: st.Serial - 1, ReadLineage: st.Lineage}
	}
	oldDep, oldLineage := st.Deployment, st.Lineage
	defer func() {
		if err != nil {
			st.Deployment, st.Lineage = oldDep, oldLineage
		}
	}()
	st.Deployment = dep
	if st.Lineage == "" && latest == 0 {
		st.Lineage = state.NewLineage()
	}
	data, err := state.Encode(st)
	if err != nil {
		return err
	}
	data, err = s.seal(ctx, kindState, snapshotAttrs(st), data)
	if err != nil {
		return fmt.Errorf("write state of deployment %q in %s: %w", dep, s.url, err)
	}
	key := SnapshotKey(dep, st.Serial)
	switch err := s.create(ctx, key, data, true); {
	case errors.Is(err, errExists):
		return &ConflictError{Deployment: dep, LatestSerial: st.Serial, ReadSerial: st.Serial - 1, ReadLineage: st.Lineage}
	case err != nil:
		return fmt.Errorf("write state %s: %w", s.b.objectURL(key), err)
	}
	_ = s.writeHint(ctx, dep, st.Serial)
	s.dropSupersededJournals(ctx, dep, st.Lineage, st.Serial)
	return nil
}

// latest returns the latest snapshot's serial and lineage (0, "" if none),
// for a run about to write on top of it. A sealed snapshot that this run
// cannot open is an error (never a damaged snapshot that may be written
// over): nothing is written on top of state its writer could not read.
func (s *Store) latest(ctx context.Context, deployment string) (uint64, string, error) {
	serial, err := s.latestSerial(ctx, deployment)
	if err != nil || serial == 0 {
		return serial, "", err
	}
	h, err := s.readHeader(ctx, deployment, serial)
	if errors.Is(err, errNotFound) {
		err = fmt.Errorf("state of deployment %q in %s changed while it was read; try again", deployment, s.url)
	}
	if err == nil {
		if err = s.checkOpenable(ctx, deployment, serial, h.sealed); err != nil {
			// Damaged (a repair may write on top, as over a clear damaged
			// snapshot; its clear lineage is no more trusted than the
			// rest) or not this run's to open (refused).
			return serial, "", err
		}
	}
	return serial, h.lineage, err
}

// snapshotAttrs are what a sealed snapshot says in clear: what the store
// needs to find, order and check snapshots without the key.
func snapshotAttrs(st *state.State) map[string]string {
	return map[string]string{"lineage": st.Lineage, "serial": strconv.FormatUint(st.Serial, 10)}
}

// dropSupersededJournals deletes, best effort, the journals whose base
// is older than the latest snapshot (lineage, serial): bases of a lower
// serial, and bases of that serial in another lineage, which can never
// be a snapshot. Read ignores them; the apply that wrote them was folded
// into a later snapshot, or replaced by a push. The latest snapshot's
// journal holds work no snapshot has (the next plan folds it in), and a
// journal of a newer base belongs to a run whose snapshot the caller has
// not seen: both stay. Failures leave journals behind for the next Write
// or OpenJournal.
func (s *Store) dropSupersededJournals(ctx context.Context, deployment, lineage string, serial uint64) {
	es, err := s.b.list(ctx, deployment+"/"+journalDir)
	if err != nil {
		return
	}
	keep := journalBaseName(lineage, serial)
	for _, e := range es {
		_, base, ok := parseJournalBaseName(e.name)
		if e.dir && ok && base <= serial && e.name != keep {
			_ = s.b.removeAll(ctx, deployment+"/"+journalDir+e.name+"/")
		}
	}
}
