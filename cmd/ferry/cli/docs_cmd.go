package cli

import (
	"bytes"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/nixferry/ferry/engine/spec"
	"github.com/nixferry/ferry/lang"
	"github.com/nixferry/ferry/providers"
)

//go:generate go run github.com/nixferry/ferry/cmd/ferry docs --out ../../../docs/reference.md

// ReferenceFile is where the reference lives, relative to the repository
// root; TestReferenceIsCurrent compares it with Reference().
const ReferenceFile = "docs/reference.md"

// DocsCmd is `ferry docs` (hidden): it writes the reference of the
// configuration language, generated from the code: lang's builtins with
// their parameter tables, the arguments every resource takes, and every
// provider's configuration and resource schemas with their Doc strings.
type DocsCmd struct {
	Out string `name:"out" placeholder:"FILE" help:"Write the reference to FILE instead of standard output."`
}

// Run writes the reference.
func (c *DocsCmd) Run(a *App) error {
	ref, err := Reference()
	if err != nil {
		return err
	}
	if c.Out == "" {
		_, err = a.Stdout.Write(ref)
		return err
	}
	return os.WriteFile(c.Out, ref, 0o644)
}

// Reference renders docs/reference.md: the builtins of lang and the
// schemas of the providers this ferry registers (NewRegistry, without
// test providers). The output depends on nothing but the code.
func Reference() ([]byte, error) {
	reg, err := NewRegistry(".")
	if err != nil {
		return nil, err
	}
	var b bytes.Buffer
	b.WriteString("# ferry.star reference\n\n")
	b.WriteString("<!-- Generated from the code by `go generate ./cmd/ferry/cli` (which runs `ferry docs --out docs/reference.md`); do not edit. TestReferenceIsCurrent fails when this file is not current. -->\n\n")
	b.WriteString("Every builtin a `ferry.star` file can call, and every argument it takes. ")
	b.WriteString("Arguments are passed by keyword; those marked *required* must be given, the others may be left out (or passed as `None`) and then take their default. ")
	b.WriteString("Starlark's own builtins (`len`, `range`, `load`, `print`, ...) work as in [the Starlark spec](https://github.com/bazelbuild/starlark/blob/master/spec.md).\n\n")

	b.WriteString("## Builtins\n")
	for _, d := range lang.Builtins(lang.Options{Schemas: reg.Schemas()}) {
		fmt.Fprintf(&b, "\n### `%s`\n\n%s\n\n", signature(d.Name, d.Params), d.Summary)
		writeParams(&b, d.Params)
		fmt.Fprintf(&b, "\nReturns %s.\n", d.Returns)
	}

	b.WriteString("\n## Resources\n\n")
	b.WriteString("A resource builtin `TYPE(name, ...)` declares the resource at address `TYPE.NAME` and returns it; ")
	b.WriteString("`r.ATTR` is a reference to one of its attributes (known after apply when the provider computes it), and passing one to another resource, a machine, a module or `output()` orders them. ")
	b.WriteString("Besides the attributes of its type, every resource builtin takes:\n\n")
	writeParams(&b, lang.ResourceMetaArgs())
	b.WriteString("\nIn the attribute tables: *required* and *optional* arguments are passed; *computed* attributes are set by the provider and only read; ")
	b.WriteString("*forces replacement*: a change replaces the object; *sensitive*: shown as `(sensitive)` in every rendering.\n")

	schemas := map[string][]spec.Schema{}
	for _, s := range reg.Schemas() {
		prefix, _, _ := strings.Cut(s.Type, ".")
		schemas[prefix] = append(schemas[prefix], s)
	}
	ps := reg.Providers()
	sort.Slice(ps, func(i, j int) bool { return ps[i].Name() < ps[j].Name() })
	for _, p := range ps {
		writeProvider(&b, p, schemas[p.Name()])
	}
	return b.Bytes(), nil
}

// writeProvider writes one provider's section: its configuration, if it
// takes one, and its resource types.
func writeProvider(b *bytes.Buffer, p providers.Provider, types []spec.Schema) {
	fmt.Fprintf(b, "\n### Provider `%s`\n", p.Name())
	if cs := p.ConfigSchema(); cs != nil {
		alias := lang.ProviderAlias()
		params := []lang.ParamDoc{alias}
		for _, a := range cs.Attrs {
			params = append(params, lang.ParamDoc{Name: a.Name, Required: a.Required, Default: starlarkValue(a.Default), Doc: a.Doc})
		}
		fmt.Fprintf(b, "\n#### `%s.provider(alias = None, ...)`\n\n", p.Name())
		if cs.Doc != "" {
			fmt.Fprintf(b, "%s\n\n", cs.Doc)
		}
		b.WriteString("A configuration of the provider, for the `provider` argument of its resources; the one without alias is the default. Its arguments must be known when the configuration is loaded. Credentials never come from here: they come from the environment and the SDK's standard chains.\n\n")
		writeParams(b, params)
	} else {
		b.WriteString("\nTakes no configuration.\n")
	}
	sort.Slice(types, func(i, j int) bool { return types[i].Type < types[j].Type })
	for _, s := range types {
		fmt.Fprintf(b, "\n#### `%s(name, ...)`\n\n", s.Type)
		if s.Doc != "" {
			fmt.Fprintf(b, "%s\n\n", s.Doc)
		}
		b.WriteString("| attribute | type | | description |\n|---|---|---|---|\n")
		for _, a := range s.Attrs {
			fmt.Fprintf(b, "| `%s` | %s | %s | %s |\n", a.Name, a.Kind, attrRole(a), cell(a.Doc))
		}
	}
}

// attrRole says how an attribute is used: passed (required, optional
// with its default) or computed, and whether a change replaces the
// object or the value is hidden.
func attrRole(a spec.Attr) string {
	var parts []string
	switch {
	case a.Required:
		parts = append(parts, "*required*")
	case a.Optional && a.Default != nil:
		parts = append(parts, "*optional*, default `"+starlarkValue(a.Default)+"`")
	case a.Optional && a.Computed:
		parts = append(parts, "*optional*, else *computed*")
	case a.Optional:
		parts = append(parts, "*optional*")
	case a.Computed:
		parts = append(parts, "*computed*")
	}
	if a.ForceNew {
		parts = append(parts, "*forces replacement*")
	}
	if a.Sensitive {
		parts = append(parts, "*sensitive*")
	}
	return strings.Join(parts, ", ")
}

// signature is name(required, ..., optional = default, ...).
func signature(name string, params []lang.ParamDoc) string {
	args := make([]string, 0, len(params))
	for _, p := range params {
		switch {
		case p.Required || strings.HasPrefix(p.Name, "*"):
			args = append(args, p.Name)
		case p.Default != "":
			args = append(args, p.Name+" = "+p.Default)
		default:
			args = append(args, p.Name+" = None")
		}
	}
	return name + "(" + strings.Join(args, ", ") + ")"
}

// writeParams writes a table of arguments.
func writeParams(b *bytes.Buffer, params []lang.ParamDoc) {
	if len(params) == 0 {
		return
	}
	b.WriteString("| argument | default | description |\n|---|---|---|\n")
	for _, p := range params {
		def := "`" + p.Default + "`"
		switch {
		case p.Required:
			def = "*required*"
		case p.Default == "":
			def = ""
		}
		fmt.Fprintf(b, "| `%s` | %s | %s |\n", p.Name, def, cell(p.Doc))
	}
}

// cell makes text fit in a Markdown table cell.
func cell(s string) string {
	return strings.ReplaceAll(strings.ReplaceAll(s, "|", `\|`), "\n", " ")
}

// starlarkValue writes a schema default as Starlark source; "" for none.
func starlarkValue(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case bool:
		if v {
			return "True"
		}
		return "False"
	}
	return spec.Render(v)
}
