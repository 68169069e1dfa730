package storetest

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// KeyedOpener returns, on one fresh, empty bucket, one Store per keys
// (nil: a Store without keys), and registers their cleanup with t. Keys
// may be shared and closed more than once.
type KeyedOpener func(t *testing.T, keys ...*sealed.Keys) []*statestore.Store

// LocalKeys returns keys that seal with the local (base64key) key made of
// the byte seal and also open with the keys made of the bytes older; a
// seal of 0 writes in clear. They are closed when t ends. The caller
// registers the base64key driver (a blank import of
// gocloud.dev/secrets/localsecrets), as it registers blob drivers.
func LocalKeys(t testing.TB, seal byte, older ...byte) *sealed.Keys {
	t.Helper()
	url := func(b byte) string {
		return "base64key://" + base64.URLEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32))
	}
	urls := []string{sealed.NoneURL}
	if seal != 0 {
		urls[0] = url(seal)
	}
	for _, b := range older {
		urls = append(urls, url(b))
	}
	k, err := sealed.OpenKeys(t.Context(), urls)
	if err != nil {
		t.Fatalf("LocalKeys: %v", err)
	}
	t.Cleanup(func() { _ = k.Close() })
	return k
}

// RunSealed runs the encryption conformance tests: what a Store with a
// key writes is sealed and reads back; without the key, or with another,
// every read fails naming the key needed, and nothing is written on top;
// clear and sealed objects mix; keys rotate and encryption turns off.
func RunSealed(t *testing.T, open KeyedOpener) {
	tests := []struct {
		name string
		run  func(t *testing.T, open KeyedOpener)
	}{
		{"SealedRoundTrip", testSealedRoundTrip},
		{"SealedWithoutKey", testSealedWithoutKey},
		{"SealedWrongKey", testSealedWrongKey},
		{"SealedMix", testSealedMix},
		{"SealedRotateAndTurnOff", testSealedRotateAndTurnOff},
		{"SealedTampered", testSealedTampered},
		{"SealedJournal", testSealedJournal},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			tc.run(t, open)
		})
	}
}

// secretID is a resource attribute that must never be stored in clear
// by a Store with a key.
const secretID = "Summer2024!"

func object(t *testing.T, s *statestore.Store, key string) []byte {
	t.Helper()
	data, err := s.ObjectForTesting(t.Context(), key)
	if err != nil {
		t.Fatalf("read %s: %v", key, err)
	}
	return data
}

func wantSealed(t *testing.T, s *statestore.Store, key string) {
	t.Helper()
	data := object(t, s, key)
	if !sealed.Is(data) || bytes.Contains(data, []byte(secretID)) {
		t.Errorf("%s is not sealed:\n%s", key, data)
	}
}

// sealedDeployment writes, with keys a, serials 1..2 holding secretID, a
// journal record on serial 2 and the plan key; it returns the state as
// Read sees it.
func sealedDeployment(t *testing.T, a *statestore.Store) *state.State {
	t.Helper()
	l := lock(t, a, "apply")
	st, _ := read(t, a)
	for i := 1; i <= 2; i++ {
		st = next(st, put(fmt.Sprintf("null.resource.r%d", i), secretID))
		if err := a.Write(t.Context(), l, st); err != nil {
			t.Fatalf("Write serial %d: %v", i, err)
		}
	}
	j, err := a.OpenJournal(t.Context(), l, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(t.Context(), []state.Change{put("null.resource.j", secretID)}); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	if _, err := a.PlanKey(t.Context(), l, dep); err != nil {
		t.Fatal(err)
	}
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	got, _ := read(t, a)
	return got
}

// snapshotObjects returns every object a reader of the deployment
// depends on, to compare before and after a refused write.
func snapshotObjects(t *testing.T, s *statestore.Store, st *state.State) map[string]string {
	t.Helper()
	out := map[string]string{}
	for n := uint64(1); n <= st.Serial+1; n++ {
		if data, err := s.ObjectForTesting(t.Context(), statestore.SnapshotKey(dep, n)); err == nil {
			out[statestore.SnapshotKey(dep, n)] = string(data)
		}
	}
	for _, k := range []string{statestore.PlanKeyKey(dep), statestore.JournalSegmentKey(dep, st.Lineage, st.Serial, 1)} {
		if data, err := s.ObjectForTesting(t.Context(), k); err == nil {
			out[k] = string(data)
		}
	}
	return out
}

func testSealedRoundTrip(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	s := open(t, k, k, nil)
	a, b, c := s[0], s[1], s[2]
	st := sealedDeployment(t, a)
	for _, key := range []string{
		statestore.SnapshotKey(dep, 1), statestore.SnapshotKey(dep, 2),
		statestore.JournalSegmentKey(dep, st.Lineage, 2, 1), statestore.PlanKeyKey(dep),
	} {
		wantSealed(t, a, key)
	}
	got, info := read(t, b)
	if d := cmp.Diff(st, got); d != "" || info.JournalSegments != 1 || got.Resources["null.resource.j"] == nil {
		t.Errorf("Read by another Store with the key: %d journal segments (-want +got):\n%s", info.JournalSegments, d)
	}
	if s1, err := b.ReadSerial(t.Context(), dep, 1); err != nil || s1.Resources["null.resource.r1"] == nil {
		t.Errorf("ReadSerial(1) = %+v, %v", s1, err)
	}
	h, err := b.History(t.Context(), dep)
	if err != nil || len(h) != 2 {
		t.Fatalf("History = %+v, %v", h, err)
	}
	for _, e := range h {
		if e.Lineage != st.Lineage || e.Sealed != "base64key" || e.Problem != "" || !strings.Contains(e.SealedKey, k.Sealer().KeyID()) {
			t.Errorf("History entry %+v; want lineage %s, sealed with base64key %s", e, st.Lineage, k.Sealer().KeyID())
		}
	}
	// The lock stays clear: a Store without the key sees who holds it.
	l := lock(t, a, "plan")
	if li, err := c.LockInfo(t.Context(), dep); err != nil || li == nil || li.ID != l.Info.ID {
		t.Errorf("LockInfo without the key = %+v, %v; want the lock", li, err)
	}
	lockData := object(t, a, statestore.LockKey(dep))
	if sealed.Is(lockData) || !bytes.Contains(lockData, []byte(l.Info.ID)) {
		t.Errorf("the lock is not clear: %s", lockData)
	}
	key1, err := a.PlanKey(t.Context(), l, dep)
	if err != nil {
		t.Fatal(err)
	}
	key2, ok, err := b.ReadPlanKey(t.Context(), dep)
	if err != nil || !ok || !bytes.Equal(key1, key2) {
		t.Errorf("ReadPlanKey by another Store: ok %v, %v, same %v", ok, err, bytes.Equal(key1, key2))
	}
	if bytes.Contains(object(t, a, statestore.PlanKeyKey(dep)), []byte(base64.StdEncoding.EncodeToString(key1))) {
		t.Errorf("the plan key is stored in clear")
	}
}

// keyless runs every read and write of a Store that cannot open the
// sealed deployment and checks that each fails with want and that
// nothing changed.
func keyless(t *testing.T, a, c *statestore.Store, st *state.State, want ...string) {
	t.Helper()
	before := snapshotObjects(t, a, st)
	_, _, err := c.Read(t.Context(), dep)
	wantContains(t, err, want...)
	if strings.Contains(fmt.Sprint(err), "corrupted") {
		t.Errorf("Read calls a sealed snapshot corrupted: %v", err)
	}
	_, err = c.ReadSerial(t.Context(), dep, 2)
	wantContains(t, err, want...)
	_, _, err = c.ReadPlanKey(t.Context(), dep)
	wantContains(t, err, want...)
	// History needs no key, and does not call it damaged.
	h, err := c.History(t.Context(), dep)
	if err != nil || len(h) != 2 || h[1].Problem != "" || h[1].Lineage != st.Lineage || h[1].Sealed != "base64key" {
		t.Errorf("History without the key = %+v, %v", h, err)
	}
	// Locks are clear: it can take the lock, and nothing more.
	l := lock(t, c, "state push")
	for _, w := range []*state.State{
		next(st),
		{Serial: st.Serial + 1, Resources: map[string]*state.Resource{}}, // what a repair pushes
	} {
		err = c.Write(t.Context(), l, w)
		wantContains(t, err, want...)
	}
	_, err = c.OpenJournal(t.Context(), l, st)
	wantContains(t, err, want...)
	_, err = c.PlanKey(t.Context(), l, dep)
	wantContains(t, err, want...)
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(before, snapshotObjects(t, a, st)); d != "" {
		t.Errorf("a Store without the key changed what is stored (-before +after):\n%s", d)
	}
	got, _ := read(t, a)
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("state after the refused writes (-before +after):\n%s", d)
	}
}

func testSealedWithoutKey(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	s := open(t, k, nil)
	st := sealedDeployment(t, s[0])
	keyless(t, s[0], s[1], st, fmt.Sprintf(" of deployment %q in ", dep),
		"is encrypted with a base64key:// key (fingerprint "+k.Sealer().KeyID()+"); pass --state-secrets=URL (FERRY_STATE_SECRETS)")
}

func testSealedWrongKey(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	other := LocalKeys(t, 2)
	s := open(t, k, other)
	st := sealedDeployment(t, s[0])
	keyless(t, s[0], s[1], st, "could not be decrypted with the key given", "it was sealed with another key", k.Sealer().KeyID())
}

func testSealedMix(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	s := open(t, nil, k)
	clear, keyed := s[0], s[1]
	l := lock(t, clear, "apply")
	st := written(t, clear, l, 2)
	// A clear journal record, then a sealed one, on the same base.
	j, err := clear.OpenJournal(t.Context(), l, st)
	if err != nil {
		t.Fatal(err)
	}
	if err := j.Append(t.Context(), []state.Change{put("null.resource.c", "C")}); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	if err := l.Release(t.Context()); err != nil {
		t.Fatal(err)
	}
	l = lock(t, keyed, "apply")
	j, err = keyed.OpenJournal(t.Context(), l, st)
	if err != nil {
		t.Fatalf("OpenJournal with a key over clear state: %v", err)
	}
	if err := j.Append(t.Context(), []state.Change{put("null.resource.s", secretID)}); err != nil {
		t.Fatal(err)
	}
	_ = j.Close()
	got, info := read(t, keyed)
	if info.JournalSegments != 2 || got.Resources["null.resource.c"] == nil || got.Resources["null.resource.s"] == nil {
		t.Errorf("Read of a clear and a sealed journal record: %+v, resources %v", info, got.Addrs())
	}
	// A sealed snapshot on top of clear ones.
	st3 := next(got)
	if err := keyed.Write(t.Context(), l, st3); err != nil {
		t.Fatalf("Write with a key on top of a clear snapshot: %v", err)
	}
	wantSealed(t, keyed, statestore.SnapshotKey(dep, 3))
	if sealed.Is(object(t, keyed, statestore.SnapshotKey(dep, 2))) {
		t.Errorf("an older clear snapshot was sealed")
	}
	for n := uint64(1); n <= 3; n++ {
		if _, err := keyed.ReadSerial(t.Context(), dep, n); err != nil {
			t.Errorf("ReadSerial(%d) with the key: %v", n, err)
		}
	}
	// Without the key: the clear snapshots still read, the latest does not.
	if _, err := clear.ReadSerial(t.Context(), dep, 2); err != nil {
		t.Errorf("ReadSerial of a clear snapshot without the key: %v", err)
	}
	_, _, err = clear.Read(t.Context(), dep)
	wantContains(t, err, "is encrypted with a base64key:// key")
	h, err := clear.History(t.Context(), dep)
	if err != nil || len(h) != 3 || h[0].Sealed != "" || h[1].Sealed != "" || h[2].Sealed != "base64key" {
		t.Errorf("History of a mix = %+v, %v", h, err)
	}
}

func testSealedRotateAndTurnOff(t *testing.T, open KeyedOpener) {
	k1 := LocalKeys(t, 1)
	rotate := LocalKeys(t, 2, 1) // seal with 2, open 1 too
	k2 := LocalKeys(t, 2)
	off := LocalKeys(t, 0, 2) // write in clear, open 2
	s := open(t, k1, rotate, k2, off, nil)
	st := sealedDeployment(t, s[0])
	planKey, _, err := s[0].ReadPlanKey(t.Context(), dep)
	if err != nil {
		t.Fatal(err)
	}

	// Rotation: write once (and take the plan key) with both keys.
	l := lock(t, s[1], "state push")
	got, _ := read(t, s[1])
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("Read while rotating (-want +got):\n%s", d)
	}
	st = next(got)
	if err := s[1].Write(t.Context(), l, st); err != nil {
		t.Fatalf("Write while rotating: %v", err)
	}
	if key, err := s[1].PlanKey(t.Context(), l, dep); err != nil || !bytes.Equal(key, planKey) {
		t.Errorf("PlanKey while rotating: %v, same key %v", err, bytes.Equal(key, planKey))
	}
	_ = l.Release(t.Context())
	got, _ = read(t, s[2])
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("Read with the new key only (-want +got):\n%s", d)
	}
	if key, ok, err := s[2].ReadPlanKey(t.Context(), dep); err != nil || !ok || !bytes.Equal(key, planKey) {
		t.Errorf("ReadPlanKey with the new key only: ok %v, %v, same %v", ok, err, bytes.Equal(key, planKey))
	}
	if _, _, err := s[0].Read(t.Context(), dep); err == nil {
		t.Errorf("the old key alone still reads the rotated state")
	}

	// Turning off: write once (and take the plan key) in clear.
	l = lock(t, s[3], "state push")
	st = next(st)
	if err := s[3].Write(t.Context(), l, st); err != nil {
		t.Fatalf("Write turning encryption off: %v", err)
	}
	if key, err := s[3].PlanKey(t.Context(), l, dep); err != nil || !bytes.Equal(key, planKey) {
		t.Errorf("PlanKey turning encryption off: %v, same key %v", err, bytes.Equal(key, planKey))
	}
	_ = l.Release(t.Context())
	if data := object(t, s[3], statestore.SnapshotKey(dep, st.Serial)); sealed.Is(data) {
		t.Errorf("the snapshot written with encryption off is sealed")
	}
	got, _ = read(t, s[4])
	if d := cmp.Diff(st, got); d != "" {
		t.Errorf("Read without a key after turning encryption off (-want +got):\n%s", d)
	}
	if key, ok, err := s[4].ReadPlanKey(t.Context(), dep); err != nil || !ok || !bytes.Equal(key, planKey) {
		t.Errorf("ReadPlanKey without a key after turning encryption off: ok %v, %v", ok, err)
	}
}

func testSealedTampered(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	s := open(t, k, nil)
	a, c := s[0], s[1]
	st := sealedDeployment(t, a)
	// Fold the journal so that serial 3 is the latest.
	l := lock(t, a, "apply")
	st = next(st)
	if err := a.Write(t.Context(), l, st); err != nil {
		t.Fatal(err)
	}
	key := statestore.SnapshotKey(dep, 3)
	good := object(t, a, key)
	var obj map[string]any
	if err := json.Unmarshal(good, &obj); err != nil {
		t.Fatal(err)
	}
	ct, _ := base64.StdEncoding.DecodeString(obj["ciphertext"].(string))
	ct[len(ct)/2] ^= 0x40
	obj["ciphertext"] = base64.StdEncoding.EncodeToString(ct)
	bad, _ := json.Marshal(obj)
	url := a.ObjectURL(key)
	for _, data := range [][]byte{bad, good[:len(good)/3]} {
		if err := a.PutObjectForTesting(t.Context(), key, data); err != nil {
			t.Fatal(err)
		}
		_, _, err := a.Read(t.Context(), dep)
		wantContains(t, err, url, "is corrupted", "encrypted but damaged", "ferry state push")
		// Without the key it cannot be told from a good one: the key is asked for.
		_, _, err = c.Read(t.Context(), dep)
		if len(data) == len(bad) {
			wantContains(t, err, "is encrypted with a base64key:// key")
		}
	}
	// With the key, a damaged snapshot is repaired like a clear one.
	repaired := &state.State{FormatVersion: state.FormatVersion, Lineage: st.Lineage, Serial: 4, Resources: map[string]*state.Resource{"null.resource.ok": res("ok")}}
	if err := a.Write(t.Context(), l, repaired); err != nil {
		t.Fatalf("Write of serial 4 over a damaged sealed serial 3: %v", err)
	}
	got, _ := read(t, a)
	if d := cmp.Diff(repaired, got); d != "" {
		t.Errorf("Read after repair (-want +got):\n%s", d)
	}
	// A sealed snapshot moved to another serial's name is damaged.
	if err := a.PutObjectForTesting(t.Context(), statestore.SnapshotKey(dep, 5), good); err != nil {
		t.Fatal(err)
	}
	_, _, err := a.Read(t.Context(), dep)
	wantContains(t, err, a.ObjectURL(statestore.SnapshotKey(dep, 5)), "is corrupted", "serial 3")
}

func testSealedJournal(t *testing.T, open KeyedOpener) {
	k := LocalKeys(t, 1)
	s := open(t, k, nil)
	a, c := s[0], s[1]
	st := sealedDeployment(t, a) // serial 2 with one sealed record
	key := statestore.JournalSegmentKey(dep, st.Lineage, 2, 1)
	rec := object(t, a, key)
	if n := bytes.Count(bytes.TrimSpace(rec), []byte("\n")); n != 0 {
		t.Errorf("a sealed journal record spans %d lines", n+1)
	}
	// A record of another base (another lineage's journal) is damage.
	other := statestore.JournalSegmentKey(dep, st.Lineage, 2, 2)
	var obj map[string]any
	if err := json.Unmarshal(rec, &obj); err != nil {
		t.Fatal(err)
	}
	if err := a.PutObjectForTesting(t.Context(), other, rec); err != nil {
		t.Fatal(err)
	}
	if _, _, err := a.Read(t.Context(), dep); err != nil {
		t.Errorf("a copied record of the same base: %v", err) // same base: replays twice, harmless
	}
	l := lock(t, a, "apply")
	st3 := next(st)
	st3.Resources = map[string]*state.Resource{}
	// Move the record under serial 3's journal: it names serial 2's base.
	if err := a.Write(t.Context(), l, st3); err != nil {
		t.Fatal(err)
	}
	moved := statestore.JournalSegmentKey(dep, st3.Lineage, 3, 1)
	if err := a.PutObjectForTesting(t.Context(), moved, rec); err != nil {
		t.Fatal(err)
	}
	_, _, err := a.Read(t.Context(), dep)
	wantContains(t, err, a.ObjectURL(moved), "is corrupted", "belongs to the journal on")
	_, _, err = c.Read(t.Context(), dep)
	wantContains(t, err, "is encrypted with a base64key:// key")
}
