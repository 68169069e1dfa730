package cli

import (
	"github.com/nixferry/ferry/engine/plan"
	"github.com/nixferry/ferry/engine/state"
	"github.com/nixferry/ferry/providers"
)

// sensitiveMark replaces a sensitive value in every rendering, JSON
// included (`plan --json`, `show --json`); the plan file and `state pull`
// keep the values (sealed with --state-secrets).
const sensitiveMark = "(sensitive)"

// redactPlan returns a copy of p whose sensitive attributes (as the plan
// records them per resource) read sensitiveMark.
func redactPlan(p *plan.Plan) *plan.Plan {
	out := *p
	out.Resources = make([]*plan.Resource, len(p.Resources))
	for i, r := range p.Resources {
		c := *r
		if len(r.Sensitive) > 0 {
			c.Before = redact(r.Before, r.Sensitive)
			c.After = redact(r.After, r.Sensitive)
			c.Args = redact(r.Args, r.Sensitive)
			c.DeleteDeposed = redact(r.DeleteDeposed, r.Sensitive)
		}
		out.Resources[i] = &c
	}
	out.Outputs = make([]*plan.Output, len(p.Outputs))
	for i, o := range p.Outputs {
		c := *o
		if o.Sensitive {
			c.Value = sensitiveMark
		}
		out.Outputs[i] = &c
	}
	return &out
}

// redactOutputs returns outputs with the sensitive ones reading
// sensitiveMark.
func redactOutputs(outputs map[string]any, sensitive []string) map[string]any {
	return redact(outputs, sensitive)
}

// redactState returns a copy of st whose resources' sensitive attributes
// (per the registry's schemas) read sensitiveMark.
func redactState(st *state.State, reg *providers.Registry) *state.State {
	out := st.Clone()
	for addr, r := range st.Resources {
		s, ok := reg.Schema(r.Type)
		if !ok || len(s.Sensitive()) == 0 {
			continue
		}
		c := *r
		c.Attrs = redact(r.Attrs, s.Sensitive())
		c.Deposed = redact(r.Deposed, s.Sensitive())
		out.Resources[addr] = &c
	}
	out.Outputs = redactOutputs(st.Outputs, st.SensitiveOutputs)
	return out
}

func redact(attrs map[string]any, sensitive []string) map[string]any {
	if attrs == nil {
		return nil
	}
	out := make(map[string]any, len(attrs))
	for k, v := range attrs {
		out[k] = v
	}
	for _, k := range sensitive {
		// null says only that there is no secret (an imported key
		// pair's private_key): shown as it is.
		if v, ok := out[k]; ok && v != nil {
			out[k] = sensitiveMark
		}
	}
	return out
}
