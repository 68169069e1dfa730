package state

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/nixferry/ferry/engine/spec"
)

// Encode writes s as indented JSON with sorted keys and a trailing newline.
func Encode(s *State) ([]byte, error) {
	out := *s
	out.FormatVersion = FormatVersion
	if out.Resources == nil {
		out.Resources = map[string]*Resource{}
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode state: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode parses a state file. name is used in errors (a URL or path).
func Decode(name string, data []byte) (*State, error) {
	var s State
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&s); err != nil {
		return nil, fmt.Errorf("state %s is corrupted (%v); restore an earlier snapshot with `ferry state history` and `ferry state push`", name, err)
	}
	if s.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("state %s has format version %d, newer than this ferry understands (%d); upgrade ferry", name, s.FormatVersion, FormatVersion)
	}
	if s.FormatVersion < 1 || s.Lineage == "" {
		return nil, fmt.Errorf("state %s is corrupted: missing format_version or lineage; restore an earlier snapshot with `ferry state history` and `ferry state push`", name)
	}
	if s.Resources == nil {
		s.Resources = map[string]*Resource{}
	}
	for _, r := range s.Resources {
		if r == nil {
			return nil, fmt.Errorf("state %s is corrupted: null resource record", name)
		}
		r.Attrs = spec.DecodeMap(r.Attrs)
		r.Deposed = spec.DecodeMap(r.Deposed)
	}
	for _, i := range s.Intents {
		if i == nil {
			return nil, fmt.Errorf("state %s is corrupted: null intent record", name)
		}
		i.Planned = spec.DecodeMap(i.Planned)
	}
	return &s, nil
}

// EncodeChanges writes a journal segment.
func EncodeChanges(cs []Change) ([]byte, error) {
	return json.Marshal(struct {
		Changes []Change `json:"changes"`
	}{cs})
}

// DecodeChanges reads a journal segment.
func DecodeChanges(name string, data []byte) ([]Change, error) {
	var seg struct {
		Changes []Change `json:"changes"`
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if err := dec.Decode(&seg); err != nil {
		return nil, fmt.Errorf("journal segment %s is corrupted: %w", name, err)
	}
	for _, c := range seg.Changes {
		if c.Resource != nil {
			c.Resource.Attrs = spec.DecodeMap(c.Resource.Attrs)
			c.Resource.Deposed = spec.DecodeMap(c.Resource.Deposed)
		}
		if c.Intent != nil {
			c.Intent.Planned = spec.DecodeMap(c.Intent.Planned)
		}
	}
	return seg.Changes, nil
}

// MarshalJSON writes the planned attributes in the encoded value form
// (unknown values as {"$unknown": ...}); Decode reads them back.
func (i Intent) MarshalJSON() ([]byte, error) {
	type plain Intent
	c := plain(i)
	c.Planned = spec.EncodeMap(i.Planned)
	return json.Marshal(c)
}
