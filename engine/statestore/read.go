package statestore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore/sealed"
	"golang.org/x/sync/errgroup"
)

// readConcurrency bounds parallel reads of segments and snapshot headers.
const readConcurrency = 8

// ReadInfo describes what Read assembled.
type ReadInfo struct {
	// Snapshot is the URL of the snapshot read, "" when the deployment has
	// none yet.
	Snapshot string
	// JournalSegments and JournalChanges count what was replayed on top of
	// the snapshot: the work of an apply that did not finish, in group
	// commits (Journal.Append calls) and changes. A plan that finds any
	// writes the state back (serial+1) to compact them.
	JournalSegments int
	JournalChanges  int
	// JournalAddrs are the addresses those changes touch, sorted, each
	// once (nil without a journal): what a `ferry state push` would drop,
	// which it must name when it refuses to run over unfolded work.
	JournalAddrs []string
}

// HistoryEntry is one snapshot of a deployment.
type HistoryEntry struct {
	Serial  uint64
	Lineage string
	Time    time.Time // when the object was written, as the bucket reports
	Size    int64
	URL     string
	// Problem says why the snapshot's header could not be read ("" when it
	// could): History does not fail on one damaged snapshot, so that
	// `ferry state history` can show which ones are good.
	Problem string
	// Sealed is the scheme of the key the snapshot is encrypted with
	// ("base64key", "awskms", ...), "" for a clear snapshot; SealedKey
	// names that key ("base64key:// key with fingerprint 1f0c...",
	// "awskms://alias/ferry"). History reads them, and the lineage, from
	// the snapshot's clear header: it needs no key. Whether this run could
	// open the snapshot is not checked here.
	Sealed    string
	SealedKey string
}

// Read returns the deployment's current state: its latest snapshot with
// the journal segments of an interrupted apply replayed on top. A
// deployment without state reads as an empty state with serial 0 and no
// lineage; the first Write assigns one.
func (s *Store) Read(ctx context.Context, deployment string) (*state.State, ReadInfo, error) {
	var info ReadInfo
	if err := checkDeployment(deployment); err != nil {
		return nil, info, err
	}
	// A Write between listing and reading deletes the journal being read
	// (or, for a moment, hides a snapshot): start again.
	for range 3 {
		st, info, err := s.read(ctx, deployment)
		if !errors.Is(err, errNotFound) {
			return st, info, err
		}
	}
	return nil, info, fmt.Errorf("state of deployment %q in %s kept changing while it was read; try again", deployment, s.url)
}

func (s *Store) read(ctx context.Context, deployment string) (*state.State, ReadInfo, error) {
	var info ReadInfo
	serial, err := s.latestSerial(ctx, deployment)
	if err != nil {
		return nil, info, err
	}
	st := &state.State{FormatVersion: state.FormatVersion, Deployment: deployment, Resources: map[string]*state.Resource{}}
	if serial > 0 {
		if st, err = s.readSnapshot(ctx, deployment, serial); err != nil {
			return nil, info, err
		}
		info.Snapshot = s.b.objectURL(SnapshotKey(deployment, serial))
	}
	if err := s.replay(ctx, deployment, st, &info); err != nil {
		return nil, info, err
	}
	return st, info, nil
}

// ReadSerial returns one snapshot as written, without any journal.
func (s *Store) ReadSerial(ctx context.Context, deployment string, serial uint64) (*state.State, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, err
	}
	st, err := s.readSnapshot(ctx, deployment, serial)
	if errors.Is(err, errNotFound) {
		return nil, fmt.Errorf("deployment %q has no state snapshot with serial %d in %s; list them with `ferry state history`", deployment, serial, s.url)
	}
	return st, err
}

// History lists the deployment's snapshots, oldest first.
func (s *Store) History(ctx context.Context, deployment string) ([]HistoryEntry, error) {
	if err := checkDeployment(deployment); err != nil {
		return nil, err
	}
	es, err := s.b.list(ctx, deployment+"/"+stateDir)
	if err != nil {
		return nil, fmt.Errorf("list snapshots of deployment %q in %s: %w", deployment, s.url, err)
	}
	var out []HistoryEntry
	for _, e := range es {
		if n, ok := parseSnapshotName(e.name); ok && !e.dir {
			out = append(out, HistoryEntry{Serial: n, Time: e.modTime, Size: e.size, URL: s.b.objectURL(SnapshotKey(deployment, n))})
		}
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(readConcurrency)
	for i := range out {
		g.Go(func() error {
			h, err := s.readHeader(gctx, deployment, out[i].Serial)
			switch {
			case err == nil:
				out[i].Lineage = h.lineage
				if h.sealed != nil {
					out[i].Sealed, out[i].SealedKey = h.sealed.Keeper, h.sealed.Key()
				}
			case gctx.Err() != nil:
				return gctx.Err()
			default:
				out[i].Problem = err.Error()
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("read snapshot history of deployment %q in %s: %w", deployment, s.url, err)
	}
	return out, nil
}

// readSnapshot reads and checks one snapshot; errNotFound if absent.
func (s *Store) readSnapshot(ctx context.Context, deployment string, serial uint64) (*state.State, error) {
	key := SnapshotKey(deployment, serial)
	data, err := s.b.get(ctx, key)
	if errors.Is(err, errNotFound) {
		return nil, err
	}
	if err != nil {
		return nil, fmt.Errorf("read state %s: %w", s.b.objectURL(key), err)
	}
	data, sh, err := s.open(ctx, s.stateSubject(deployment), kindState, data)
	switch {
	case damaged(err):
		return nil, corrupted(s.b.objectURL(key), damage(err))
	case err != nil:
		return nil, err // sealed with a key this run lacks: not damaged
	}
	st, err := state.Decode(s.b.objectURL(key), data)
	if err != nil {
		if _, version, herr := parseHeader(data); herr == nil && version > state.FormatVersion {
			return nil, err // not damaged: this ferry is too old
		}
		return nil, &corruptError{err.Error()}
	}
	if st.Serial != serial {
		return nil, corrupted(s.b.objectURL(key), fmt.Sprintf("it holds serial %d", st.Serial))
	}
	if sh != nil && (sh.Attrs["lineage"] != st.Lineage || sh.Attrs["serial"] != strconv.FormatUint(st.Serial, 10)) {
		return nil, corrupted(s.b.objectURL(key), "its clear lineage or serial differs from the sealed state's")
	}
	return st, nil
}

func corrupted(url, why string) error {
	return &corruptError{fmt.Sprintf("state %s is corrupted (%s); restore an earlier snapshot with `ferry state history` and `ferry state push`", url, why)}
}

// latestSerial finds the newest snapshot (0 if none): from the hint if it
// names an existing snapshot, else from a listing, then forward probes.
func (s *Store) latestSerial(ctx context.Context, deployment string) (uint64, error) {
	n := s.readHint(ctx, deployment)
	if n > 0 {
		ok, err := s.b.exists(ctx, SnapshotKey(deployment, n))
		if err != nil {
			return 0, fmt.Errorf("read state of deployment %q in %s: %w", deployment, s.url, err)
		}
		if !ok {
			n = 0
		}
	}
	if n == 0 {
		es, err := s.b.list(ctx, deployment+"/"+stateDir)
		if err != nil {
			return 0, fmt.Errorf("list snapshots of deployment %q in %s: %w", deployment, s.url, err)
		}
		for _, e := range es {
			if m, ok := parseSnapshotName(e.name); ok && !e.dir && m > n {
				n = m
			}
		}
		if n == 0 {
			return 0, nil
		}
	}
	for {
		ok, err := s.b.exists(ctx, SnapshotKey(deployment, n+1))
		if err != nil {
			return 0, fmt.Errorf("read state of deployment %q in %s: %w", deployment, s.url, err)
		}
		if !ok {
			return n, nil
		}
		n++
	}
}

type hint struct {
	Serial uint64 `json:"serial"`
}

// readHint returns the hinted latest serial, 0 when there is no usable
// hint (it is only a hint: every failure falls back to listing).
func (s *Store) readHint(ctx context.Context, deployment string) uint64 {
	data, err := s.b.get(ctx, hintKey(deployment))
	if err != nil {
		return 0
	}
	var h hint
	if json.Unmarshal(data, &h) != nil {
		return 0
	}
	return h.Serial
}

func (s *Store) writeHint(ctx context.Context, deployment string, serial uint64) error {
	data, _ := json.Marshal(hint{Serial: serial}) // cannot fail
	return s.put(ctx, hintKey(deployment), append(data, '\n'))
}

// headerBytes is how much of a snapshot readHeader fetches: state.Encode
// writes format_version, lineage and serial first.
const headerBytes = 1024

type header struct {
	serial  uint64
	lineage string
	sealed  *sealed.Header // nil for a clear snapshot
}

// readHeader reads a snapshot's serial and lineage without reading the
// whole file; errNotFound if absent.
func (s *Store) readHeader(ctx context.Context, deployment string, serial uint64) (header, error) {
	key := SnapshotKey(deployment, serial)
	data, err := s.b.getPrefix(ctx, key, headerBytes)
	if errors.Is(err, errNotFound) {
		return header{}, err
	}
	if err != nil {
		return header{}, fmt.Errorf("read state %s: %w", s.b.objectURL(key), err)
	}
	if sealed.Is(data) {
		return s.readSealedHeader(ctx, deployment, serial, data)
	}
	h, version, err := parseHeader(data)
	if err != nil {
		if len(data) < headerBytes {
			return header{}, corrupted(s.b.objectURL(key), err.Error())
		}
		// The fields may lie beyond the prefix (another writer's key
		// order): read it all.
		st, err := s.readSnapshot(ctx, deployment, serial)
		if err != nil {
			return header{}, err
		}
		return header{serial: st.Serial, lineage: st.Lineage}, nil
	}
	switch {
	case version > state.FormatVersion:
		return header{}, fmt.Errorf("state %s has format version %d, newer than this ferry understands (%d); upgrade ferry", s.b.objectURL(key), version, state.FormatVersion)
	case version < 1 || h.lineage == "":
		return header{}, corrupted(s.b.objectURL(key), "missing format_version or lineage")
	case h.serial != serial:
		return header{}, corrupted(s.b.objectURL(key), fmt.Sprintf("it holds serial %d", h.serial))
	}
	return h, nil
}

// readSealedHeader reads a sealed snapshot's lineage and serial from its
// clear header (data is the object's beginning), without the key.
func (s *Store) readSealedHeader(ctx context.Context, deployment string, serial uint64, data []byte) (header, error) {
	url := s.b.objectURL(SnapshotKey(deployment, serial))
	sh, err := sealed.ParseHeader(data)
	if err != nil {
		if len(data) < headerBytes {
			return header{}, corrupted(url, "its encryption envelope is unreadable: "+err.Error())
		}
		// A header longer than the prefix: read it all.
		full, gerr := s.b.get(ctx, SnapshotKey(deployment, serial))
		if gerr != nil {
			if errors.Is(gerr, errNotFound) {
				return header{}, gerr
			}
			return header{}, fmt.Errorf("read state %s: %w", url, gerr)
		}
		if sh, err = sealed.ParseHeader(full); err != nil {
			return header{}, corrupted(url, "its encryption envelope is unreadable: "+err.Error())
		}
	}
	h := header{lineage: sh.Attrs["lineage"], sealed: &sh}
	n, perr := strconv.ParseUint(sh.Attrs["serial"], 10, 64)
	switch {
	case sh.Version > sealed.Version:
		return header{}, fmt.Errorf("state %s is sealed in envelope version %d, newer than this ferry understands (%d); upgrade ferry", url, sh.Version, sealed.Version)
	case sh.Kind != kindState:
		return header{}, corrupted(url, fmt.Sprintf("it is a sealed %s, not state", sh.Kind))
	case perr != nil || h.lineage == "":
		return header{}, corrupted(url, "its encryption envelope lacks the lineage or serial")
	case n != serial:
		return header{}, corrupted(url, fmt.Sprintf("it holds serial %d", n))
	}
	h.serial = n
	return h, nil
}

// parseHeader reads format_version, lineage and serial from the start of
// a snapshot, skipping other fields, and stops as soon as it has them.
func parseHeader(data []byte) (header, int, error) {
	var h header
	version := -1
	haveSerial, haveLineage := false, false
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if t, err := dec.Token(); err != nil || t != json.Delim('{') {
		return h, 0, fmt.Errorf("not a JSON object")
	}
	for !haveSerial || !haveLineage || version < 0 {
		t, err := dec.Token()
		if err != nil {
			return h, 0, err
		}
		key, ok := t.(string)
		if !ok {
			return h, 0, fmt.Errorf("missing format_version, lineage or serial")
		}
		t, err = dec.Token()
		if err != nil {
			return h, 0, err
		}
		switch key {
		case "format_version":
			n, ok := t.(json.Number)
			v, err := strconv.Atoi(string(n))
			if !ok || err != nil {
				return h, 0, fmt.Errorf("format_version is not an integer")
			}
			version = v
		case "lineage":
			if h.lineage, ok = t.(string); !ok {
				return h, 0, fmt.Errorf("lineage is not a string")
			}
			haveLineage = true
		case "serial":
			n, ok := t.(json.Number)
			v, err := strconv.ParseUint(string(n), 10, 64)
			if !ok || err != nil {
				return h, 0, fmt.Errorf("serial is not an unsigned integer")
			}
			h.serial, haveSerial = v, true
		default:
			if err := skipValue(dec, t); err != nil {
				return h, 0, err
			}
		}
	}
	return h, version, nil
}

// skipValue consumes the rest of a value whose first token is t.
func skipValue(dec *json.Decoder, t json.Token) error {
	if t != json.Delim('{') && t != json.Delim('[') {
		return nil
	}
	for depth := 1; depth > 0; {
		t, err := dec.Token()
		if err != nil {
			return err
		}
		switch t {
		case json.Delim('{'), json.Delim('['):
			depth++
		case json.Delim('}'), json.Delim(']'):
			depth--
		}
	}
	return nil
}
