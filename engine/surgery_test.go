package engine_test

import (
	"context"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/nixferry/ferry/engine"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/engine/statestore"
)

const surgeryHostKey = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJ1+rfkk2PNXRovHJCe5pKYf5oXo9dzo4Urcu8ncxcb1"

// surgeryState has two resources (b depends on a, c on a machine) and two
// machines, one of them with everything a deploy records.
func surgeryState() *state.State {
	return &state.State{
		FormatVersion: state.FormatVersion,
		Lineage:       "11111111-2222-3333-4444-555555555555",
		Serial:        3,
		Deployment:    testDeployment,
		Resources: map[string]*state.Resource{
			"null.resource.a": {Type: "null.resource", Attrs: map[string]any{"id": "1"}},
			"null.resource.b": {Type: "null.resource", Attrs: map[string]any{"id": "2"}, Deps: []string{"null.resource.a"}},
			"null.resource.c": {Type: "null.resource", Attrs: map[string]any{"id": "3"}, Deps: []string{"machine.web1", "null.resource.a"}},
		},
		Machines: map[string]*state.Machine{
			"machine.web1": {
				Target: "root@10.0.0.1:22", HostKey: surgeryHostKey, Path: "/nix/store/aaa-nixos-system-web1",
				Generation: 7, Activation: "switch", Status: state.StatusUnverified, StatusReason: "check failed",
				StatusAt: fixedNow, Keys: map[string]string{"/run/keys/token": "sha256:abc"},
			},
			"machine.db": {Target: "root@10.0.0.2:22"},
		},
	}
}

func TestStateAddrs(t *testing.T) {
	want := []string{"null.resource.a", "null.resource.b", "null.resource.c", "machine.db", "machine.web1"}
	if diff := cmp.Diff(want, engine.StateAddrs(surgeryState())); diff != "" {
		t.Errorf("StateAddrs (-want +got):\n%s", diff)
	}
}

func TestSurgeryLookupAddr(t *testing.T) {
	st := surgeryState()
	if r, m, err := engine.LookupAddr(st, "null.resource.b"); err != nil || r != st.Resources["null.resource.b"] || m != nil {
		t.Errorf("LookupAddr(null.resource.b) = %v, %v, %v", r, m, err)
	}
	if r, m, err := engine.LookupAddr(st, "machine.db"); err != nil || m != st.Machines["machine.db"] || r != nil {
		t.Errorf("LookupAddr(machine.db) = %v, %v, %v", r, m, err)
	}
	for addr, want := range map[string]string{
		"null.resource.zzz": `null.resource.zzz is not in the state of deployment "test"; see ` + "`ferry state list`",
		"null.resource.bb":  `null.resource.bb is not in the state of deployment "test" (did you mean null.resource.b?); see`,
		"machine.web2":      `(did you mean machine.web1?)`,
		"web1":              `(did you mean machine.web1?)`,
		"null.resorce.a":    `(did you mean null.resource.a?)`,
		"machine.null":      `machine.null is not in the state`,
		"null.resource.d":   `null.resource.d is not in the state of deployment "test"; see`,
	} {
		_, _, err := engine.LookupAddr(st, addr)
		wantErr(t, err, want)
	}
}

func TestSurgeryRemoveAddrs(t *testing.T) {
	tests := []struct {
		name    string
		addrs   []string
		gone    []string
		wantErr []string
	}{
		{name: "resource", addrs: []string{"null.resource.a"}, gone: []string{"null.resource.a"}},
		{name: "machine", addrs: []string{"machine.web1"}, gone: []string{"machine.web1"}},
		{name: "both", addrs: []string{"machine.db", "null.resource.c", "machine.web1"}, gone: []string{"machine.db", "machine.web1", "null.resource.c"}},
		{name: "twice", addrs: []string{"machine.db", "machine.db"}, gone: []string{"machine.db"}},
		{
			name: "unknown: nothing removed, each named", addrs: []string{"null.resource.a", "machine.web9", "null.resource.x"},
			wantErr: []string{"machine.web9 is not in the state of deployment \"test\" (did you mean machine.web1?)", "\nnull.resource.x is not in the state"},
		},
		{name: "a resource address is not a machine", addrs: []string{"null.resource.web1"}, wantErr: []string{"null.resource.web1 is not in the state"}},
		{name: "none", wantErr: []string{"no address to remove"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := surgeryState()
			out, err := engine.RemoveAddrs(st, tt.addrs)
			if diff := cmp.Diff(surgeryState(), st); diff != "" {
				t.Errorf("RemoveAddrs changed its argument (-want +got):\n%s", diff)
			}
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := surgeryState()
			for _, a := range tt.gone {
				delete(want.Resources, a)
				delete(want.Machines, a)
			}
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("state after rm (-want +got):\n%s", diff)
			}
		})
	}
}

func TestSurgeryMoveAddr(t *testing.T) {
	tests := []struct {
		name     string
		from, to string
		edit     func(want *state.State) // what the move changes
		wantErr  []string
	}{
		{
			name: "resource, and the deps on it follow", from: "null.resource.a", to: "null.resource.first",
			edit: func(w *state.State) {
				w.Resources["null.resource.first"] = w.Resources["null.resource.a"]
				delete(w.Resources, "null.resource.a")
				w.Resources["null.resource.b"].Deps = []string{"null.resource.first"}
				w.Resources["null.resource.c"].Deps = []string{"machine.web1", "null.resource.first"}
			},
		},
		{
			name: "machine keeps its record; a resource's dep on it follows", from: "machine.web1", to: "machine.frontend",
			edit: func(w *state.State) {
				w.Machines["machine.frontend"] = w.Machines["machine.web1"]
				delete(w.Machines, "machine.web1")
				w.Resources["null.resource.c"].Deps = []string{"machine.frontend", "null.resource.a"}
			},
		},
		{name: "onto an existing resource", from: "null.resource.a", to: "null.resource.b",
			wantErr: []string{`cannot move null.resource.a to null.resource.b: null.resource.b is already in the state of deployment "test"; forget it first with ` + "`ferry state rm null.resource.b`"}},
		{name: "onto an existing machine", from: "machine.db", to: "machine.web1",
			wantErr: []string{"cannot move machine.db to machine.web1: machine.web1 is already in the state"}},
		{name: "machine to a resource address", from: "machine.db", to: "null.resource.db",
			wantErr: []string{"cannot move machine machine.db to null.resource.db, which is not a machine address"}},
		{name: "resource to a machine address", from: "null.resource.a", to: "machine.a",
			wantErr: []string{"cannot move resource null.resource.a to machine address machine.a: a resource moves to null.resource.NAME"}},
		{name: "resource to another type", from: "null.resource.a", to: "local.file.a",
			wantErr: []string{"null.resource.a is a null.resource, and a resource keeps its type; move it to null.resource.NAME"}},
		{name: "bad resource name", from: "null.resource.a", to: "null.resource.a.b",
			wantErr: []string{`"a.b" is not a resource name`}},
		{name: "bad machine name", from: "machine.db", to: "machine.",
			wantErr: []string{`"" is not a machine name`}},
		{name: "unknown", from: "null.resource.aa", to: "null.resource.x",
			wantErr: []string{"null.resource.aa is not in the state of deployment \"test\" (did you mean null.resource.a?)"}},
		{name: "onto itself", from: "machine.db", to: "machine.db", wantErr: []string{"machine.db is already at machine.db"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := surgeryState()
			out, err := engine.MoveAddr(st, tt.from, tt.to)
			if diff := cmp.Diff(surgeryState(), st); diff != "" {
				t.Errorf("MoveAddr changed its argument (-want +got):\n%s", diff)
			}
			if tt.wantErr != nil {
				wantErr(t, err, tt.wantErr...)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := surgeryState()
			tt.edit(want)
			if diff := cmp.Diff(want, out); diff != "" {
				t.Errorf("state after mv (-want +got):\n%s", diff)
			}
		})
	}
}

// surgerySeed writes st as the next snapshot of the test deployment, with the
// stored lineage (st's for the first snapshot).
func surgerySeed(t *testing.T, s *statestore.Store, st *state.State) {
	t.Helper()
	ctx := context.Background()
	lock, err := s.Lock(ctx, testDeployment, engine.NewLockInfo("surgerySeed", "test", fixedNow), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer lock.Release(ctx)
	cur, _, err := s.Read(ctx, testDeployment)
	if err != nil {
		t.Fatal(err)
	}
	st = st.Clone()
	st.Serial = cur.Serial + 1
	if cur.Lineage != "" {
		st.Lineage = cur.Lineage
	}
	if err := s.Write(ctx, lock, st); err != nil {
		t.Fatal(err)
	}
}

func TestSurgeryModifyState(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memStore)
	surgerySeed(t, e.store, surgeryState())
	before := e.state()

	out, err := e.eng.ModifyState(ctx, testDeployment, "state mv", 0, func(st *state.State) (*state.State, error) {
		return engine.MoveAddr(st, "machine.web1", "machine.web")
	})
	if err != nil {
		t.Fatal(err)
	}
	got := e.state()
	if out.Serial != before.Serial+1 || got.Serial != out.Serial || got.Lineage != before.Lineage {
		t.Errorf("after ModifyState: returned serial %d, stored serial %d lineage %s; want serial %d, lineage %s", out.Serial, got.Serial, got.Lineage, before.Serial+1, before.Lineage)
	}
	if m := got.Machines["machine.web"]; m == nil || m.HostKey != surgeryHostKey || m.Generation != 7 || m.Status != state.StatusUnverified {
		t.Errorf("moved machine = %+v, want web1's record", m)
	}
	if lock, _ := e.store.LockInfo(ctx, testDeployment); lock != nil {
		t.Errorf("lock still held after ModifyState: %+v", lock)
	}

	// An error from fn writes nothing and comes back as is.
	errBoom := errors.New("boom")
	if _, err := e.eng.ModifyState(ctx, testDeployment, "state rm", 0, func(*state.State) (*state.State, error) { return nil, errBoom }); !errors.Is(err, errBoom) {
		t.Errorf("ModifyState with a failing fn = %v, want %v", err, errBoom)
	}
	// A nil state writes nothing either.
	if out, err := e.eng.ModifyState(ctx, testDeployment, "rollback", 0, func(*state.State) (*state.State, error) { return nil, nil }); out != nil || err != nil {
		t.Errorf("ModifyState with nothing to write = %v, %v; want nil, nil", out, err)
	}
	if s := e.state().Serial; s != got.Serial {
		t.Errorf("serial %d after failed and empty modifications, want %d", s, got.Serial)
	}

	// A held lock is waited for, then refused.
	lock, err := e.otherStore().Lock(ctx, testDeployment, engine.NewLockInfo("apply", "test", fixedNow), 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.eng.ModifyState(ctx, testDeployment, "state rm", 10*time.Millisecond, func(st *state.State) (*state.State, error) { return st.Clone(), nil })
	var le *statestore.LockedError
	if !errors.As(err, &le) {
		t.Errorf("ModifyState under another's lock = %v, want a LockedError", err)
	}
	_ = lock.Release(ctx)

	// The journal of an interrupted apply is folded in by the write.
	appendJournal(t, e.store, state.Change{Addr: "null.resource.new", Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "9"}}})
	e.takeEvents()
	_, err = e.eng.ModifyState(ctx, testDeployment, "state rm", 0, func(st *state.State) (*state.State, error) {
		return engine.RemoveAddrs(st, []string{"null.resource.a"})
	})
	if err != nil {
		t.Fatal(err)
	}
	st, info, err := e.store.Read(ctx, testDeployment)
	if err != nil {
		t.Fatal(err)
	}
	if info.JournalSegments != 0 || st.Resources["null.resource.new"] == nil || st.Resources["null.resource.a"] != nil {
		t.Errorf("after rm over a journal: %d journal segments, resources %v; want the journal folded and a removed", info.JournalSegments, st.Addrs())
	}
	if rec := eventsOf(e.takeEvents(), engine.EventRecovered); len(rec) != 1 {
		t.Errorf("folding the journal emitted %d recovered events, want 1", len(rec))
	}
}

// surgeryPushFile is a snapshot as `ferry state pull` prints it: here, of the
// test deployment with the lineage of what is stored.
func surgeryPushFile(t *testing.T, e *env) *state.State {
	t.Helper()
	st := e.state().Clone()
	delete(st.Resources, "null.resource.b")
	return st
}

func TestSurgeryPushState(t *testing.T) {
	ctx := context.Background()
	unknownType := func(st *state.State) {
		st.Resources["aws.instance.x"] = &state.Resource{Type: "aws.instance", Attrs: map[string]any{"id": "i-1"}}
	}
	tests := []struct {
		name    string
		edit    func(pushed *state.State)
		journal bool
		// wantReasons are fragments of the refusal, one per reason.
		wantReasons []string
	}{
		{name: "a good snapshot"},
		{
			name: "over an interrupted apply's journal", journal: true,
			wantReasons: []string{`the journal of deployment "test" holds work of an interrupted apply that is in no snapshot yet (machine.web1, null.resource.j), which the push would drop; run ` + "`ferry plan` first"},
		},
		{
			name: "another deployment's", edit: func(p *state.State) { p.Deployment = "prod" },
			wantReasons: []string{`f.json is a snapshot of deployment "prod", not "test"; push it with -d prod`},
		},
		{
			name: "another lineage", edit: func(p *state.State) { p.Lineage = "99999999-2222-3333-4444-555555555555" },
			wantReasons: []string{`f.json has lineage 99999999-2222-3333-4444-555555555555 but the state of deployment "test" has 11111111-2222-3333-4444-555555555555: it belongs to another state`},
		},
		{
			name: "unknown resource type", edit: unknownType,
			wantReasons: []string{`f.json has resources of types no provider of this ferry knows: aws.instance.x (type "aws.instance"); upgrade ferry, or remove them from the file`},
		},
		{
			name: "everything at once", journal: true,
			edit: func(p *state.State) {
				p.Deployment, p.Lineage = "prod", "99999999-2222-3333-4444-555555555555"
				unknownType(p)
			},
			wantReasons: []string{"the journal of", "a snapshot of deployment", "has lineage", "no provider of this ferry knows"},
		},
	}
	for _, tt := range tests {
		for _, force := range []bool{false, true} {
			name := tt.name
			if force {
				name += " with force"
			}
			t.Run(name, func(t *testing.T) {
				e := newEnv(t, memStore)
				surgerySeed(t, e.store, surgeryState())
				lineage := surgeryState().Lineage
				pushed := surgeryPushFile(t, e)
				if tt.edit != nil {
					tt.edit(pushed)
				}
				if tt.journal {
					appendJournal(t, e.store,
						state.Change{Addr: "null.resource.j", Resource: &state.Resource{Type: "null.resource", Attrs: map[string]any{"id": "j"}}},
						state.Change{Addr: "machine.web1", Machine: &state.Machine{Target: "root@10.0.0.1:22", Generation: 8}})
				}
				before := e.state()
				res, err := e.eng.PushState(ctx, testDeployment, pushed, engine.PushOptions{Source: "f.json", Force: force})
				if len(tt.wantReasons) > 0 && !force {
					var pe *engine.PushRefusedError
					if !errors.As(err, &pe) {
						t.Fatalf("push = %v, want a PushRefusedError", err)
					}
					if len(pe.Problems) != len(tt.wantReasons) {
						t.Errorf("refusal has %d problems, want %d:\n%v", len(pe.Problems), len(tt.wantReasons), err)
					}
					wantErr(t, err, tt.wantReasons...)
					wantErr(t, err, `refusing to push f.json into deployment "test"`, "pass --force to push it anyway")
					if diff := cmp.Diff(before, e.state()); diff != "" {
						t.Errorf("a refused push changed the state (-before +after):\n%s", diff)
					}
					return
				}
				if err != nil {
					t.Fatal(err)
				}
				if rec := eventsOf(e.takeEvents(), engine.EventRecovered); len(rec) != 0 {
					t.Errorf("a push reported folding the journal, which it drops")
				}
				if len(res.Overridden) != len(tt.wantReasons) {
					t.Errorf("overridden = %q, want %d reasons", res.Overridden, len(tt.wantReasons))
				}
				got := e.state()
				if got.Serial != before.Serial+1 || got.Lineage != lineage || got.Deployment != testDeployment {
					t.Errorf("pushed state: serial %d, lineage %s, deployment %q; want serial %d, the deployment's lineage %s, %q",
						got.Serial, got.Lineage, got.Deployment, before.Serial+1, lineage, testDeployment)
				}
				if got.Resources["null.resource.b"] != nil || got.Machines["machine.web1"] == nil || got.Machines["machine.web1"].HostKey != surgeryHostKey {
					t.Errorf("pushed state has %v and machines %v; want the pushed snapshot's", got.Addrs(), engine.StateAddrs(got))
				}
			})
		}
	}
}

func TestSurgeryPushStateNotes(t *testing.T) {
	ctx := context.Background()
	e := newEnv(t, memStore)

	// The first snapshot of a deployment takes the pushed lineage.
	pushed := surgeryState()
	res, err := e.eng.PushState(ctx, testDeployment, pushed, engine.PushOptions{Source: "f.json"})
	if err != nil {
		t.Fatal(err)
	}
	if got := e.state(); got.Serial != 1 || got.Lineage != pushed.Lineage || len(res.Notes)+len(res.Overridden) != 0 {
		t.Errorf("first push: serial %d lineage %s, notes %q overridden %q", got.Serial, got.Lineage, res.Notes, res.Overridden)
	}
	// An older serial of the same lineage is pushed as a new snapshot.
	surgerySeed(t, e.store, surgeryState())
	old := surgeryState()
	old.Serial = 1
	res, err = e.eng.PushState(ctx, testDeployment, old, engine.PushOptions{Source: "f.json"})
	if err != nil {
		t.Fatal(err)
	}
	if want := []string{"f.json has serial 1, older than the current 2; pushing it as a new snapshot"}; !cmp.Equal(want, res.Notes) || res.State.Serial != 3 {
		t.Errorf("push of an older serial: notes %q, serial %d; want %q, serial 3", res.Notes, res.State.Serial, want)
	}
	// A damaged latest snapshot is written over.
	if err := e.store.PutObjectForTesting(ctx, statestore.SnapshotKey(testDeployment, 3), []byte("{not json")); err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.ModifyState(ctx, testDeployment, "state rm", 0, func(st *state.State) (*state.State, error) { return st, nil }); err == nil {
		t.Errorf("ModifyState over a damaged snapshot succeeded; only push repairs")
	}
	res, err = e.eng.PushState(ctx, testDeployment, surgeryState(), engine.PushOptions{Source: "f.json"})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Notes) != 1 || !strings.Contains(res.Notes[0], `the latest snapshot of "test" (serial 3) cannot be read (`) || !strings.HasSuffix(res.Notes[0], "writing serial 4 on top of it") {
		t.Errorf("push over a damaged snapshot: notes %q", res.Notes)
	}
	if got := e.state(); got.Serial != 4 || len(got.Machines) != 2 {
		t.Errorf("after the repair: serial %d, machines %v", got.Serial, engine.StateAddrs(got))
	}
	// A null machine record is refused whatever the flags.
	bad := surgeryState()
	bad.Machines["machine.x"] = nil
	_, err = e.eng.PushState(ctx, testDeployment, bad, engine.PushOptions{Source: "f.json", Force: true})
	wantErr(t, err, "f.json is corrupted: machine.x has a null record")
}

func TestSurgeryDeleteDeployment(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name    string
		st      *state.State // nil: no deployment at all
		wantErr []string
	}{
		{name: "missing", wantErr: []string{`deployment "test" does not exist in mem://; see ` + "`ferry list`"}},
		{name: "empty"},
		{
			name: "resources and machines",
			st:   surgeryState(),
			wantErr: []string{
				`deployment "test" still has 3 resources (null.resource.a, null.resource.b, null.resource.c) and 2 machines (machine.db, machine.web1) in its state: `,
				"run `ferry destroy` to delete the resources (or `ferry state rm ADDR...` to forget them), and `ferry state rm machine.db machine.web1` to forget the machines (their hosts are left as they are); then run `ferry delete` again",
			},
		},
		{
			name:    "machines only",
			st:      &state.State{Machines: map[string]*state.Machine{"machine.a": {Target: "root@a:22"}}},
			wantErr: []string{`deployment "test" still has 1 machine (machine.a) in its state: run ` + "`ferry state rm machine.a` to forget"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e := newEnv(t, memStore)
			switch {
			case tt.name == "empty":
				surgerySeed(t, e.store, &state.State{Resources: map[string]*state.Resource{}})
			case tt.st != nil:
				surgerySeed(t, e.store, tt.st)
			}
			checkErr := e.eng.CheckDeleteDeployment(ctx, testDeployment)
			err := e.eng.DeleteDeployment(ctx, testDeployment, 0)
			deps, lerr := e.store.Deployments(ctx)
			if lerr != nil {
				t.Fatal(lerr)
			}
			if tt.wantErr != nil {
				wantErr(t, checkErr, tt.wantErr...)
				wantErr(t, err, tt.wantErr...)
				if tt.st != nil && (len(deps) != 1 || e.state().Serial != 1) {
					t.Errorf("a refused delete left deployments %v, serial %d", deps, e.state().Serial)
				}
				if tt.st == nil && len(deps) != 0 {
					t.Errorf("deleting a missing deployment created %v", deps)
				}
				return
			}
			if checkErr != nil || err != nil {
				t.Fatalf("CheckDeleteDeployment = %v, DeleteDeployment = %v", checkErr, err)
			}
			if len(deps) != 0 {
				t.Errorf("after delete, the store still lists %v", deps)
			}
		})
	}
}
