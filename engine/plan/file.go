package plan

import (
	"bytes"
	"encoding/json"
	"fmt"
	"time"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore/sealed"
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
		c.DeleteDeposed = spec.EncodeMap(r.DeleteDeposed)
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
	if *head.FormatVersion < FormatVersion {
		return nil, fmt.Errorf("plan %s has format version %d, written by an older ferry that did not record plan-time options or sign plans; run `ferry plan --out %s` to write a new one", name, *head.FormatVersion, name)
	}
	var p Plan
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	dec.DisallowUnknownFields()
	if err := dec.Decode(&p); err != nil {
		return nil, fmt.Errorf("plan %s is corrupted (%v); run `ferry plan --out %s` to write a new one", name, err, name)
	}
	if err := p.Options.check(); err != nil {
		return nil, fmt.Errorf("plan %s is corrupted: options: %v; run `ferry plan` again", name, err)
	}
	for _, r := range p.Resources {
		if r == nil || r.Addr == "" || r.Type == "" {
			return nil, fmt.Errorf("plan %s is corrupted: a resource without address or type; run `ferry plan` again", name)
		}
		switch r.Action {
		case Create, Update, Replace, Delete, Noop, Import:
		default:
			return nil, fmt.Errorf("plan %s is corrupted: %s has unknown action %q; run `ferry plan` again", name, r.Addr, r.Action)
		}
		r.Before = spec.DecodeMap(r.Before)
		r.After = spec.DecodeMap(r.After)
		r.Args = spec.DecodeMap(r.Args)
		r.DeleteDeposed = spec.DecodeMap(r.DeleteDeposed)
		if err := r.checkSealed(); err != nil {
			return nil, fmt.Errorf("plan %s is corrupted: %s: %v; run `ferry plan` again", name, r.Addr, err)
		}
		if t := r.Timeouts; t != nil {
			for _, d := range []string{t.Create, t.Update, t.Delete} {
				if d == "" {
					continue
				}
				if v, err := time.ParseDuration(d); err != nil || v <= 0 {
					return nil, fmt.Errorf("plan %s is corrupted: %s: timeout %q is not a positive duration; run `ferry plan` again", name, r.Addr, d)
				}
			}
		}
	}
	for _, pr := range p.Providers {
		if pr == nil || pr.Key == "" || pr.Name == "" {
			return nil, fmt.Errorf("plan %s is corrupted: a provider without key or name; run `ferry plan` again", name)
		}
		pr.Config = spec.DecodeMap(pr.Config)
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
		case Deploy, UploadKeys, Noop, Forget, Deferred, Stopped:
		default:
			return nil, fmt.Errorf("plan %s is corrupted: %s has unknown action %q; run `ferry plan` again", name, m.Addr, m.Action)
		}
		if err := m.check(); err != nil {
			return nil, fmt.Errorf("plan %s is corrupted: %s: %v; run `ferry plan` again", name, m.Addr, err)
		}
	}
	if err := p.checkRollout(); err != nil {
		return nil, fmt.Errorf("plan %s is corrupted: rollout: %v; run `ferry plan` again", name, err)
	}
	for _, e := range p.Edges {
		if !p.hasNode(e[0]) || !p.hasNode(e[1]) {
			return nil, fmt.Errorf("plan %s is corrupted: edge %s -> %s names a resource the plan does not hold; run `ferry plan` again", name, e[0], e[1])
		}
	}
	return &p, nil
}

// checkSealed verifies the sealed values (see sealed.go): an attribute
// whose value has the key "$sealed" must be exactly a sealed value.
func (r *Resource) checkSealed() error {
	for _, f := range r.fields() {
		for attr, v := range *f.m {
			m, ok := v.(map[string]any)
			if !ok {
				continue
			}
			if _, has := m[SealedKey]; !has {
				continue
			}
			s, ok := sealedString(v)
			if !ok || !sealed.IsValue(s) {
				return fmt.Errorf("%s of %s is not a sealed value", attr, f.name)
			}
			if _, err := sealed.ValueHeader(s); err != nil {
				return fmt.Errorf("sealed value %s of %s is unreadable (%v)", attr, f.name, err)
			}
		}
	}
	return nil
}

// check verifies the options apply acts on.
func (o Options) check() error {
	switch o.Activate {
	case "switch", "boot", "test", "dry-activate":
	default:
		return fmt.Errorf("activation %q is not switch, boot, test or dry-activate", o.Activate)
	}
	switch o.Reboot {
	case "never", "if-needed", "always":
	default:
		return fmt.Errorf("reboot %q is not never, if-needed or always", o.Reboot)
	}
	return nil
}

// check verifies what apply parses from a planned machine.
func (m *Machine) check() error {
	if m.Action == Deploy {
		switch m.Activate {
		case "switch", "boot", "test", "dry-activate":
		default:
			return fmt.Errorf("activation %q is not switch, boot, test or dry-activate", m.Activate)
		}
	}
	if m.ConfirmTimeout != "" {
		if d, err := time.ParseDuration(m.ConfirmTimeout); err != nil || d <= 0 {
			return fmt.Errorf("confirm_timeout %q is not a positive duration", m.ConfirmTimeout)
		}
	}
	for _, c := range m.Checks {
		if c == nil {
			return fmt.Errorf("an empty check")
		}
		for _, d := range []string{c.Timeout, c.Interval} {
			if _, err := time.ParseDuration(d); err != nil {
				return fmt.Errorf("check %s%s: %q is not a duration", c.Cmd, c.URL, d)
			}
		}
		if c.Retries < 0 || (c.Kind != "cmd" && c.Kind != "http") {
			return fmt.Errorf("check %s%s: kind %q, retries %d", c.Cmd, c.URL, c.Kind, c.Retries)
		}
	}
	for _, k := range m.Keys {
		if k == nil || k.Name == "" || k.Dest == "" {
			return fmt.Errorf("a key without name or destination")
		}
	}
	for t := &m.Target; t != nil; t = t.Jump {
		for name := range t.Refs {
			switch name {
			case "host", "port", "user", "host_key":
			default:
				return fmt.Errorf("target argument %q cannot be known only after apply", name)
			}
		}
	}
	return nil
}

// checkRollout verifies that every batch member is a planned deploy, once.
func (p *Plan) checkRollout() error {
	ro := p.Rollout
	if ro == nil {
		return nil
	}
	if ro.MaxFailures < 0 {
		return fmt.Errorf("max_failures %d", ro.MaxFailures)
	}
	if ro.Pause != "" {
		if _, err := time.ParseDuration(ro.Pause); err != nil {
			return fmt.Errorf("pause %q is not a duration", ro.Pause)
		}
	}
	seen := map[string]bool{}
	for i, batch := range ro.Batches {
		if len(batch) == 0 {
			return fmt.Errorf("batch %d is empty", i+1)
		}
		for _, a := range batch {
			m := p.Machine(a)
			switch {
			case m == nil || m.Action != Deploy:
				return fmt.Errorf("batch %d lists %s, which the plan does not deploy", i+1, a)
			case seen[a]:
				return fmt.Errorf("%s is in two batches", a)
			}
			seen[a] = true
		}
	}
	return nil
}

func (p *Plan) hasNode(addr string) bool { return p.Resource(addr) != nil || p.Machine(addr) != nil }
