package fakecloud

import (
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/nixferry/ferry/engine/spec"
)

// Object is one object in the fake cloud.
type Object struct {
	Type  string `json:"type"` // "fake.thing"
	ID    string `json:"id"`
	Token string `json:"token,omitempty"` // the idempotency token of the create that made it
	// Created orders objects made with the same token (Adopt returns the
	// first).
	Created time.Time      `json:"created"`
	Attrs   map[string]any `json:"attrs"` // the resource's attributes, current schema version
}

func (o Object) clone() Object {
	o.Attrs = spec.CloneMap(o.Attrs)
	return o
}

// Store is where a fake cloud's objects and injected faults live: in
// memory (one per region of a Provider, Provider.Memory) or in a folder
// (OpenDir). Its methods let tests look at objects and change them behind
// ferry's back. It is safe for concurrent use; a folder is also safe for
// several processes at once, except that two processes using up one
// counted fault may both see it.
type Store struct {
	mu sync.Mutex // orders this process's changes
	b  backend
	// memFaults are InjectFault's faults in memory; a folder keeps them
	// in DIR/faults.
	memFaults map[string]*fault
	// hostMu makes a fake.host create's choice of endpoint and its add
	// one step (in this process).
	hostMu sync.Mutex
}

// backend keeps objects; Store does the locking and copying around it.
type backend interface {
	get(typ, id string) (Object, bool, error)
	list(typ string) ([]Object, error)
	put(o Object) error
	// add stores o unless its ID is taken, and returns the object that has
	// the ID afterwards and whether it was there before.
	add(o Object) (Object, bool, error)
	remove(typ, id string) error
	// fault and setFault read and write a folder's fault files; ok is
	// false for a memory backend.
	fault(call string) (string, bool, error)
	setFault(call, line string) (ok bool, err error)
	// logCall appends a call's name to a folder's log of calls, or of
	// hanging calls when hang is true.
	logCall(call string, hang bool) error
}

func newMemStore() *Store { return &Store{b: &memBackend{objects: map[string]map[string]Object{}}} }

// Get returns the object typ/id.
func (s *Store) Get(typ, id string) (Object, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	o, ok, err := s.b.get(typ, id)
	return o.clone(), ok, err
}

// List returns the objects of typ, oldest first.
func (s *Store) List(typ string) ([]Object, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	objs, err := s.b.list(typ)
	if err != nil {
		return nil, err
	}
	out := make([]Object, len(objs))
	for i, o := range objs {
		out[i] = o.clone()
	}
	slices.SortFunc(out, func(a, b Object) int {
		if c := a.Created.Compare(b.Created); c != 0 {
			return c
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, nil
}

// Put stores o, replacing the object with its ID.
func (s *Store) Put(o Object) error {
	if o.Type == "" || o.ID == "" {
		return fmt.Errorf("fake cloud: an object needs a type and an ID, got %q %q", o.Type, o.ID)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.put(o.clone())
}

// Remove deletes typ/id; an object that is gone already is no error.
func (s *Store) Remove(typ, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.remove(typ, id)
}

// InjectFault makes calls named call ("fake.thing.create") misbehave as
// line says ("fail 2 throttled"; see the package doc); an empty line
// removes the fault.
func (s *Store) InjectFault(call, line string) error {
	if !knownCall(call) {
		return fmt.Errorf("fake cloud: no call %q to inject a fault into; calls are %s", call, strings.Join(callNames(), ", "))
	}
	if line != "" {
		if _, err := parseFault(line); err != nil {
			return err
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ok, err := s.b.setFault(call, line); ok || err != nil {
		return err
	}
	if line == "" {
		delete(s.memFaults, call)
		return nil
	}
	f, _ := parseFault(line)
	if s.memFaults == nil {
		s.memFaults = map[string]*fault{}
	}
	s.memFaults[call] = &f
	return nil
}

// add stores o unless its ID is taken (see backend.add).
func (s *Store) add(o Object) (Object, bool, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	got, existed, err := s.b.add(o.clone())
	return got.clone(), existed, err
}

// takeFault returns the fault injected for call, using up one of its
// calls, or nil.
func (s *Store) takeFault(call string) (*fault, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	line, inDir, err := s.b.fault(call)
	if err != nil {
		return nil, err
	}
	if inDir {
		if line == "" {
			return nil, nil
		}
		f, err := parseFault(line)
		if err != nil {
			return nil, fmt.Errorf("fault file for %s: %w", call, err)
		}
		if f.count > 0 {
			next := "" // used up
			if f.count > 1 {
				left := f
				left.count--
				next = left.line()
			}
			_, err = s.b.setFault(call, next)
		}
		return &f, err
	}
	f := s.memFaults[call]
	if f == nil {
		return nil, nil
	}
	taken := *f
	if f.count > 0 {
		if f.count--; f.count == 0 {
			delete(s.memFaults, call)
		}
	}
	return &taken, nil
}

func (s *Store) logCall(call string, hang bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.logCall(call, hang)
}

// memBackend keeps objects in maps: type -> id -> object.
type memBackend struct {
	objects map[string]map[string]Object
}

func (m *memBackend) get(typ, id string) (Object, bool, error) {
	o, ok := m.objects[typ][id]
	return o, ok, nil
}

func (m *memBackend) list(typ string) ([]Object, error) {
	out := make([]Object, 0, len(m.objects[typ]))
	for _, o := range m.objects[typ] {
		out = append(out, o)
	}
	return out, nil
}

func (m *memBackend) put(o Object) error {
	if m.objects[o.Type] == nil {
		m.objects[o.Type] = map[string]Object{}
	}
	m.objects[o.Type][o.ID] = o
	return nil
}

func (m *memBackend) add(o Object) (Object, bool, error) {
	if old, ok := m.objects[o.Type][o.ID]; ok {
		return old, true, nil
	}
	return o, false, m.put(o)
}

func (m *memBackend) remove(typ, id string) error {
	delete(m.objects[typ], id)
	return nil
}

func (*memBackend) fault(string) (string, bool, error)    { return "", false, nil }
func (*memBackend) setFault(string, string) (bool, error) { return false, nil }
func (*memBackend) logCall(string, bool) error            { return nil }
