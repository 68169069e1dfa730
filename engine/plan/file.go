package plan

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/nixferry/ferry/engine/spec"
)

// Encode writes p in its file form: indented JSON, sorted, trailing newline.
func Encode(p *Plan) ([]byte, error) {
	p.Normalize()
	out := *p
	out.FormatVersion = FormatVersion
	out.Resources = make([]*Resource, len(p.Resources))
	for i, r := range p.Resources {
		c := *r
		c.Before = spec.EncodeMap(r.Before)
		c.After = spec.EncodeMap(r.After)
		c.Args = spec.EncodeMap(r.Args)
		out.Resources[i] = &c
	}
	out.Outputs = make([]*Output, len(p.Outputs))
	for i, o := range p.Outputs {
		c := *o
		c.Value = spec.Encode(o.Value)
		out.Outputs[i] = &c
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(&out); err != nil {
		return nil, fmt.Errorf("encode plan: %w", err)
	}
	return buf.Bytes(), nil
}

// Decode parses a plan file; name is used in errors.
func Decode(name string, data []byte) (*Plan, error) {
	var head struct {
		FormatVersion *int `json:"format_version"`
	}
	if err := json.Unmarshal(data, &head); err != nil {
		return nil, fmt.Errorf("plan %s is not a ferry plan file (%v); run `ferry plan --out %s` to write a new one", name, err, name)
	}
	if head.FormatVersion == nil {
		return nil, fmt.Errorf("plan %s is not a ferry plan file (no format_version); run `ferry plan --out %s` to write a new one", name, name)
	}
	if *head.FormatVersion > FormatVersion {
		return nil, fmt.Errorf("plan %s has format version %d, newer than this ferry understands (%d); apply it with the ferry that wrote it, or upgrade ferry", name, *head.FormatVersion, FormatVersion)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan %s is corrupted (%v); run `ferry plan --out %s` to write a new one", name, err, name)
	}
	for _, r := range p.Resources {
		if r == nil || r.Addr == "" || r.Type == "" {
			return nil, fmt.Errorf("plan %s is corrupted: a resource without address or type; run `ferry plan` again", name)
		}
		switch r.Action {
		case Create, Update, Replace, Delete, Noop:
		default:
			return nil, fmt.Errorf("plan %s is corrupted: %s has unknown action %q; run `ferry plan` again", name, r.Addr, r.Action)
		}
		r.Before = spec.DecodeMap(r.Before)
		r.After = spec.DecodeMap(r.After)
		r.Args = spec.DecodeMap(r.Args)
	}
	for _, o := range p.Outputs {
		o.Value = spec.Decode(o.Value)
	}
	p.Normalize()
	for _, m := range p.Machines {
		if m == nil || m.Addr == "" || m.Name == "" {
			return nil, fmt.Errorf("plan %s is corrupted: a machine without name or address; run `ferry plan` again", name)
		}
		switch m.Action {
		case Deploy, UploadKeys, Noop, Forget:
		default:
			return nil, fmt.Errorf("plan %s is corrupted: %s has unknown action %q; run `ferry plan` again", name, m.Addr, m.Action)
		}
	}
	for _, e := range p.Edges {
		if !p.hasNode(e[0]) || !p.hasNode(e[1]) {
			return nil, fmt.Errorf("plan %s is corrupted: edge %s -> %s names a resource the plan does not hold; run `ferry plan` again", name, e[0], e[1])
		}
	}
	return &p, nil
}

func (p *Plan) hasNode(addr string) bool { return p.Resource(addr) != nil || p.Machine(addr) != nil }
