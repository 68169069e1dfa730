package spec

import (
	"errors"
	"strings"
)

// Diagnostic is an error (or warning) about the configuration, with the
// position it concerns. Its Error form is "file:line:col: summary".
type Diagnostic struct {
	Pos     Pos
	Summary string
	Detail  string
}

func (d *Diagnostic) Error() string {
	var b strings.Builder
	if !d.Pos.IsZero() {
		b.WriteString(d.Pos.String())
		b.WriteString(": ")
	}
	b.WriteString(d.Summary)
	if d.Detail != "" {
		b.WriteString("\n  ")
		b.WriteString(strings.ReplaceAll(d.Detail, "\n", "\n  "))
	}
	return b.String()
}

// Errorf builds a Diagnostic at pos.
func Errorf(pos Pos, summary string) *Diagnostic {
	return &Diagnostic{Pos: pos, Summary: summary}
}

// Diagnostics is a list of diagnostics reported together.
type Diagnostics []*Diagnostic

func (ds Diagnostics) Error() string {
	parts := make([]string, len(ds))
	for i, d := range ds {
		parts[i] = d.Error()
	}
	return strings.Join(parts, "\n")
}

// Err returns ds as an error, or nil when ds is empty.
func (ds Diagnostics) Err() error {
	if len(ds) == 0 {
		return nil
	}
	if len(ds) == 1 {
		return ds[0]
	}
	return ds
}

// AsDiagnostic finds a Diagnostic in err's chain.
func AsDiagnostic(err error) (*Diagnostic, bool) {
	var d *Diagnostic
	ok := errors.As(err, &d)
	return d, ok
}
