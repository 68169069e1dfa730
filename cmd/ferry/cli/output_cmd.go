package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
)

// OutputCmd is `ferry output [NAME] [--raw|--json]`, Terraform's: the
// outputs of the deployment's state (declared with output() and
// evaluated by the last apply), without loading the configuration's
// machines or contacting any host.
type OutputCmd struct {
	Name string `arg:"" optional:"" help:"One output, by name (default: all)."`
	Raw  bool   `name:"raw" xor:"format" help:"Print NAME's value alone, a string without quotes, for shell scripts (a sensitive output too)."`
	JSON bool   `name:"json" xor:"format" help:"Print as JSON: {NAME: {\"value\": ..., \"sensitive\": bool}}, or NAME's value alone."`
}

// Run prints the outputs. Sensitive ones read (sensitive), except with
// --raw of that one NAME: asking for it by name, in a form only a script
// reads, is the deliberate act that reveals it.
func (c *OutputCmd) Run(a *App) error {
	if c.Raw && c.Name == "" {
		return fmt.Errorf("--raw prints one output: pass its name, ferry output --raw NAME")
	}
	st, err := a.readState()
	if err != nil {
		return err
	}
	if c.Name != "" {
		v, ok := st.Outputs[c.Name]
		if !ok {
			return noSuchOutput(c.Name, st.Deployment, st.Outputs)
		}
		sensitive := slices.Contains(st.SensitiveOutputs, c.Name)
		switch {
		case c.Raw:
			return printRaw(a.Stdout, c.Name, v)
		case sensitive && c.JSON:
			return printJSON(a.Stdout, sensitiveMark)
		case sensitive:
			fmt.Fprintln(a.Stdout, sensitiveMark)
			return nil
		case c.JSON:
			return printJSON(a.Stdout, spec.Encode(v))
		}
		fmt.Fprintln(a.Stdout, spec.Render(v))
		return nil
	}
	outputs := redactOutputs(st.Outputs, st.SensitiveOutputs)
	if c.JSON {
		type entry struct {
			Value     any  `json:"value"`
			Sensitive bool `json:"sensitive"`
		}
		all := map[string]entry{}
		for k, v := range outputs {
			all[k] = entry{Value: spec.Encode(v), Sensitive: slices.Contains(st.SensitiveOutputs, k)}
		}
		return printJSON(a.Stdout, all)
	}
	if len(outputs) == 0 {
		fmt.Fprintf(a.Stderr, "Deployment %q has no outputs: declare them with output(name, value) and run ferry apply.\n", st.Deployment)
		return nil
	}
	renderOutputLines(a.Stdout, "", outputs, st.SensitiveOutputs)
	return nil
}

// renderOutputLines writes NAME = VALUE lines, sorted by name, the
// sensitive ones as (sensitive).
func renderOutputLines(w io.Writer, indent string, outputs map[string]any, sensitive []string) {
	for _, k := range sortedKeys(outputs) {
		v := spec.Render(outputs[k])
		if slices.Contains(sensitive, k) {
			v = sensitiveMark
		}
		fmt.Fprintf(w, "%s%s = %s\n", indent, k, v)
	}
}

// printRaw writes a string, number or bool as it is, as Terraform's -raw.
func printRaw(w io.Writer, name string, v any) error {
	switch v := v.(type) {
	case string:
		_, err := io.WriteString(w, v)
		return err
	case bool, json.Number:
		_, err := fmt.Fprint(w, spec.Render(v))
		return err
	default:
		return fmt.Errorf("output %q is not a string, number or bool: --raw cannot print it; use ferry output --json %s", name, name)
	}
}

func printJSON(w io.Writer, v any) error {
	data, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", data)
	return err
}

func noSuchOutput(name, deployment string, outputs map[string]any) error {
	if len(outputs) == 0 {
		return fmt.Errorf("output %q not found: deployment %q has no outputs (declare them with output(name, value) and run ferry apply)", name, deployment)
	}
	return fmt.Errorf("output %q not found in deployment %q; it has: %s", name, deployment, strings.Join(sortedKeys(outputs), ", "))
}
