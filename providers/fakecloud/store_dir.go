package fakecloud

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/spec/atomicfile"
)

// OpenDir returns the store kept in folder dir (created when missing):
//
//	DIR/objects/TYPE/ID.json   one object each, written atomically
//	DIR/faults/CALL            an injected fault's line ("fail" when empty)
//	DIR/calls.log              every call made, one name a line
//	DIR/hangs.log              every call that started hanging on a fault
//
// A process that dies mid-write leaves at most a temporary file, which the
// next OpenDir in this host sweeps.
func OpenDir(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("fake cloud folder %s: %w", dir, err)
	}
	for _, sub := range []string{"objects", "faults"} {
		if err := os.MkdirAll(filepath.Join(abs, sub), 0o755); err != nil {
			return nil, fmt.Errorf("fake cloud folder: %w", err)
		}
	}
	d := &dirBackend{dir: abs}
	if err := d.checkFaultFiles(); err != nil {
		return nil, err
	}
	if types, err := os.ReadDir(filepath.Join(abs, "objects")); err == nil {
		for _, t := range types {
			if t.IsDir() {
				atomicfile.Sweep(filepath.Join(abs, "objects", t.Name()), atomicfile.Legacy{})
			}
		}
	}
	atomicfile.Sweep(filepath.Join(abs, "faults"), atomicfile.Legacy{})
	return &Store{b: d}, nil
}

type dirBackend struct{ dir string }

func (d *dirBackend) typeDir(typ string) string { return filepath.Join(d.dir, "objects", typ) }

func (d *dirBackend) objectPath(typ, id string) string {
	return filepath.Join(d.typeDir(typ), id+".json")
}

func (d *dirBackend) get(typ, id string) (Object, bool, error) {
	return readObject(d.objectPath(typ, id))
}

func readObject(path string) (Object, bool, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Object{}, false, nil
	}
	if err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: %w", err)
	}
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.UseNumber()
	var o Object
	if err := dec.Decode(&o); err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: object file %s: %w; fix or remove it", path, err)
	}
	o.Attrs = spec.DecodeMap(o.Attrs)
	return o, true, nil
}

func (d *dirBackend) list(typ string) ([]Object, error) {
	des, err := os.ReadDir(d.typeDir(typ))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("fake cloud: %w", err)
	}
	var out []Object
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") || !strings.HasSuffix(name, ".json") {
			continue // a temporary file, or not ours
		}
		o, ok, err := readObject(filepath.Join(d.typeDir(typ), name))
		if err != nil {
			return nil, err
		}
		if ok {
			out = append(out, o)
		}
	}
	return out, nil
}

func encodeObject(o Object) ([]byte, error) {
	o.Attrs = spec.EncodeMap(o.Attrs)
	b, err := json.MarshalIndent(o, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("fake cloud: encode %s %s: %w", o.Type, o.ID, err)
	}
	return append(b, '\n'), nil
}

func (d *dirBackend) put(o Object) error {
	b, err := encodeObject(o)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(d.typeDir(o.Type), 0o755); err != nil {
		return fmt.Errorf("fake cloud: %w", err)
	}
	if err := atomicfile.WriteFile(d.objectPath(o.Type, o.ID), b, 0o644); err != nil {
		return fmt.Errorf("fake cloud: write %s %s: %w", o.Type, o.ID, err)
	}
	return nil
}

// add writes a complete temporary file and links it to the object's name:
// the link fails when the name exists, even for another process, so two
// creates with one token make one object.
func (d *dirBackend) add(o Object) (Object, bool, error) {
	b, err := encodeObject(o)
	if err != nil {
		return Object{}, false, err
	}
	dir := d.typeDir(o.Type)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: %w", err)
	}
	final := d.objectPath(o.Type, o.ID)
	tmp, err := atomicfile.DefaultNames.CreateTemp(dir, filepath.Base(final), 0o644)
	if err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: %w", err)
	}
	defer func() { _ = os.Remove(tmp.Name()) }()
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Chmod(0o644)
	}
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: write %s %s: %w", o.Type, o.ID, err)
	}
	if err := os.Link(tmp.Name(), final); errors.Is(err, fs.ErrExist) {
		old, ok, err := readObject(final)
		if err == nil && !ok {
			err = fmt.Errorf("fake cloud: %s %s vanished while being created twice", o.Type, o.ID)
		}
		return old, true, err
	} else if err != nil {
		return Object{}, false, fmt.Errorf("fake cloud: create %s %s: %w", o.Type, o.ID, err)
	}
	return o, false, atomicfile.SyncDir(dir)
}

func (d *dirBackend) remove(typ, id string) error {
	if err := os.Remove(d.objectPath(typ, id)); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("fake cloud: delete %s %s: %w", typ, id, err)
	}
	return nil
}

func (d *dirBackend) faultPath(call string) string { return filepath.Join(d.dir, "faults", call) }

func (d *dirBackend) fault(call string) (string, bool, error) {
	b, err := os.ReadFile(d.faultPath(call))
	if errors.Is(err, fs.ErrNotExist) {
		return "", true, nil
	}
	if err != nil {
		return "", true, fmt.Errorf("fake cloud: %w", err)
	}
	line := strings.TrimSpace(string(b))
	if line == "" {
		line = "fail" // an empty file is the simplest fault
	}
	return line, true, nil
}

func (d *dirBackend) setFault(call, line string) (bool, error) {
	if line == "" {
		if err := os.Remove(d.faultPath(call)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return true, fmt.Errorf("fake cloud: %w", err)
		}
		return true, nil
	}
	if err := atomicfile.WriteFile(d.faultPath(call), []byte(line+"\n"), 0o644); err != nil {
		return true, fmt.Errorf("fake cloud: %w", err)
	}
	return true, nil
}

// checkFaultFiles refuses fault files that name no call, so that a typo in
// a test does not silently inject nothing.
func (d *dirBackend) checkFaultFiles() error {
	des, err := os.ReadDir(filepath.Join(d.dir, "faults"))
	if err != nil {
		return fmt.Errorf("fake cloud: %w", err)
	}
	for _, de := range des {
		name := de.Name()
		if strings.HasPrefix(name, ".") {
			continue
		}
		if !knownCall(name) {
			return fmt.Errorf("fake cloud: fault file %s names no call; calls are %s", filepath.Join(d.dir, "faults", name), strings.Join(callNames(), ", "))
		}
		line, _, err := d.fault(name)
		if err != nil {
			return err
		}
		if _, err := parseFault(line); err != nil {
			return fmt.Errorf("fake cloud: fault file %s: %w", filepath.Join(d.dir, "faults", name), err)
		}
	}
	return nil
}

// logCall appends call to DIR/calls.log, or DIR/hangs.log. One short
// write with O_APPEND is not interleaved with another process's.
func (d *dirBackend) logCall(call string, hang bool) error {
	name := "calls.log"
	if hang {
		name = "hangs.log"
	}
	f, err := os.OpenFile(filepath.Join(d.dir, name), os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o644)
	if err != nil {
		return fmt.Errorf("fake cloud: %w", err)
	}
	_, err = f.WriteString(call + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("fake cloud: %w", err)
	}
	return nil
}
