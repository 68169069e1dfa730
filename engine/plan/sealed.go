package plan

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/engine/statestore/sealed"
)

// Sensitive values in a plan file.
//
// A resource type's schema marks attributes Sensitive (spec.Attr). With
// a sealing key (the state store's --state-secrets), Seal replaces each
// sensitive attribute's value in Before, After, Args and DeleteDeposed by
//
//	{"$sealed": "ferry-sealed:1:<keeper>:<key_id>:<base64 ciphertext>"}
//
// so that the plan file stays reviewable JSON in which only the secrets
// are ciphertext, and the reviewer sees which kind of key opens them.
// Apply opens them with Unseal. Without a sealing key the values stay in
// clear, as OpenTofu writes them: a plan file is then as secret as the
// state; rendering shows "(sensitive)" either way (Resource.Sealed and
// IsSealed help it, the schema says the rest).
//
// A value is sealed whole (the attribute's entire value, references and
// unknowns inside included), bound to the plan's deployment, the
// resource's address, the attribute and the field (before, after, args,
// delete_deposed): a sealed value moved elsewhere does not open. Values
// that hold nothing secret stay clear: null, (known after apply), a bare
// reference. The attributes sealed are those the schema marks (the
// SensitiveFunc) and those the plan lists in Resource.Sensitive.
//
// The signature covers the sealed form: sign after Seal, verify before
// Unseal. What is reviewed and signed is the ciphertext; the plaintext
// it opens to is authenticated by the key that sealed it.
//
// Sensitive outputs (output(..., sensitive = True)) never stand in clear
// in a plan: with a sealing key their value is sealed the same way
// (bound to the deployment and the output's name); without one it is
// left out (Output.Withheld) and apply takes it from the configuration,
// whose inputs the plan pins (FillWithheld). Unlike resource
// attributes, an output is not needed to review the plan, so a plan
// file is never the only place a secret output would be read from.

// SealedKey is the only key of a sealed value.
const SealedKey = "$sealed"

// sealedKind is the kind of a sealed value (sealed.Header.Kind).
const sealedKind = "plan-value"

// SensitiveFunc returns the names of a resource type's sensitive
// attributes (spec.Schema.Sensitive); nil for none or an unknown type.
type SensitiveFunc func(typ string) []string

// Seal replaces, in every resource of p, the values of the sensitive
// attributes (those sensitive names for its type, and those r.Sensitive
// lists) in Before, After, Args and DeleteDeposed by sealed values, with
// keys' sealing key. Without one (nil keys, or keys that write in clear) it
// changes nothing. It never changes a map in place: attribute maps may be
// shared with state.
func Seal(ctx context.Context, p *Plan, sensitive SensitiveFunc, keys *sealed.Keys) error {
	if err := sealOutputs(ctx, p, keys); err != nil {
		return err
	}
	if !keys.Sealing() || sensitive == nil {
		return nil
	}
	for _, r := range p.Resources {
		names := slices.Concat(sensitive(r.Type), r.Sensitive)
		if len(names) == 0 {
			continue
		}
		slices.Sort(names)
		names = slices.Compact(names)
		for _, f := range r.fields() {
			m := *f.m
			copied := false
			for _, name := range names {
				v, ok := m[name]
				if !ok || !secretValue(v) {
					continue
				}
				plain, err := json.Marshal(spec.Encode(v))
				if err != nil {
					return fmt.Errorf("seal %s of %s: %w", name, r.Addr, err)
				}
				s, err := keys.SealValue(ctx, sealedKind, sealedAttrs(p, r, f.name, name), plain)
				if err != nil {
					return fmt.Errorf("seal sensitive value %s of %s: %w", name, r.Addr, err)
				}
				if !copied {
					m, copied = maps.Clone(m), true
				}
				m[name] = map[string]any{SealedKey: s}
			}
			*f.m = m
		}
	}
	return nil
}

// sealOutputs seals the value of every sensitive output of p with keys'
// sealing key, or, without one, leaves it out of the plan (Withheld).
// The outputs are copied, never changed in place.
func sealOutputs(ctx context.Context, p *Plan, keys *sealed.Keys) error {
	for i, o := range p.Outputs {
		if !o.Sensitive || o.Withheld || IsSealed(o.Value) {
			continue
		}
		c := *o
		if !keys.Sealing() {
			c.Value, c.Withheld = nil, true
			p.Outputs[i] = &c
			continue
		}
		plain, err := json.Marshal(spec.Encode(o.Value))
		if err != nil {
			return fmt.Errorf("seal output %s: %w", o.Name, err)
		}
		s, err := keys.SealValue(ctx, sealedKind, outputSealedAttrs(p, o.Name), plain)
		if err != nil {
			return fmt.Errorf("seal sensitive output %s: %w", o.Name, err)
		}
		c.Value = map[string]any{SealedKey: s}
		p.Outputs[i] = &c
	}
	return nil
}

// outputSealedAttrs binds a sealed output value to where it belongs.
func outputSealedAttrs(p *Plan, name string) map[string]string {
	return map[string]string{"deployment": p.Deployment, "output": name}
}

// FillWithheld gives each output of p whose value the plan left out
// (Withheld: a sensitive output of a plan made without a sealing key)
// its value from outputs, the configuration's outputs by name (the plan
// pins the configuration's inputs, so it is the value planned). An
// output the configuration no longer declares is an error.
func FillWithheld(p *Plan, outputs map[string]any) error {
	for i, o := range p.Outputs {
		if !o.Withheld {
			continue
		}
		v, ok := outputs[o.Name]
		if !ok {
			return fmt.Errorf("the plan's sensitive output %s is not in the plan file, and the configuration given to apply does not declare it: run `ferry apply PLAN` in the configuration the plan was made from", o.Name)
		}
		c := *o
		c.Value, c.Withheld = v, false
		p.Outputs[i] = &c
	}
	return nil
}

// Unseal opens every sealed value of p in place of the sealed one, with
// any of keys. A sealed value that keys cannot open is an error naming
// the key it needs (a *sealed.Error). It never changes a map in place.
// Call it after Verify: an unsealed plan is for executing, not for
// writing (its signature covers the sealed form, and Encode would now
// write the sensitive values in clear).
func Unseal(ctx context.Context, p *Plan, keys *sealed.Keys) error {
	for i, o := range p.Outputs {
		s, ok := sealedString(o.Value)
		if !ok {
			continue
		}
		v, err := openValue(ctx, keys, "the plan's sensitive output "+o.Name, outputSealedAttrs(p, o.Name), s)
		if err != nil {
			return err
		}
		c := *o
		c.Value = v
		p.Outputs[i] = &c
	}
	for _, r := range p.Resources {
		for _, f := range r.fields() {
			m := *f.m
			copied := false
			for _, name := range slices.Sorted(maps.Keys(m)) {
				s, ok := sealedString(m[name])
				if !ok {
					continue
				}
				subject := fmt.Sprintf("the plan's sensitive value %s of %s (%s)", name, r.Addr, f.name)
				v, err := openValue(ctx, keys, subject, sealedAttrs(p, r, f.name, name), s)
				if err != nil {
					return err
				}
				if !copied {
					m, copied = maps.Clone(m), true
				}
				m[name] = v
			}
			*f.m = m
		}
	}
	return nil
}

// openValue opens the sealed value s bound to attrs, subject naming it in
// errors.
func openValue(ctx context.Context, keys *sealed.Keys, subject string, attrs map[string]string, s string) (any, error) {
	plain, err := keys.OpenValue(ctx, subject, sealedKind, attrs, s)
	if err != nil {
		return nil, err
	}
	dec := json.NewDecoder(bytes.NewReader(plain))
	dec.UseNumber()
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, fmt.Errorf("%s does not hold a value: %w", subject, err)
	}
	return spec.Decode(v), nil
}

// IsSealed reports whether v is a sealed value ({"$sealed": "..."}).
func IsSealed(v any) bool {
	_, ok := sealedString(v)
	return ok
}

// Sealed lists, sorted, the attributes of r whose value is sealed in
// Before, After, Args or DeleteDeposed: what a renderer shows as "(sensitive)" even
// without the schema.
func (r *Resource) Sealed() []string {
	seen := map[string]bool{}
	for _, f := range r.fields() {
		for name, v := range *f.m {
			if IsSealed(v) {
				seen[name] = true
			}
		}
	}
	return slices.Sorted(maps.Keys(seen))
}

// HasSealed reports whether any value of p is sealed: apply then needs
// the key (Unseal).
func (p *Plan) HasSealed() bool {
	for _, o := range p.Outputs {
		if IsSealed(o.Value) {
			return true
		}
	}
	for _, r := range p.Resources {
		if len(r.Sealed()) > 0 {
			return true
		}
	}
	return false
}

// field is one attribute map of a resource.
type field struct {
	name string
	m    *map[string]any
}

func (r *Resource) fields() []field {
	return []field{{"before", &r.Before}, {"after", &r.After}, {"args", &r.Args}, {"delete_deposed", &r.DeleteDeposed}}
}

// sealedAttrs binds a sealed value to where it belongs.
func sealedAttrs(p *Plan, r *Resource, fieldName, attr string) map[string]string {
	return map[string]string{"deployment": p.Deployment, "address": r.Addr, "field": fieldName, "attribute": attr}
}

// secretValue reports whether v may hold a secret: anything but null,
// an unknown, a bare reference, or a value sealed already.
func secretValue(v any) bool {
	switch v.(type) {
	case nil, spec.Unknown, spec.Ref:
		return false
	}
	return !IsSealed(v)
}

func sealedString(v any) (string, bool) {
	m, ok := v.(map[string]any)
	if !ok || len(m) != 1 {
		return "", false
	}
	s, ok := m[SealedKey].(string)
	return s, ok
}
