package spec

import "fmt"

// Pos is a position in a configuration file. Line and Col are 1-based;
// a zero Pos means "unknown".
type Pos struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Col  int    `json:"col"`
}

// IsZero reports whether p carries no position.
func (p Pos) IsZero() bool { return p.File == "" && p.Line == 0 }

// String renders p as file:line:col, the form editors jump to.
func (p Pos) String() string {
	if p.IsZero() {
		return "<unknown>"
	}
	return fmt.Sprintf("%s:%d:%d", p.File, p.Line, p.Col)
}
