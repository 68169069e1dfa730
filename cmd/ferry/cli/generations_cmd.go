package cli

import (
	"fmt"
	"time"

	"github.com/nixferry/ferry/remote"
)

// GenerationsCmd is `ferry generations NAME`.
type GenerationsCmd struct {
	Name string `arg:"" name:"machine" help:"The machine, by name."`
	JSON bool   `name:"json" help:"Print JSON."`
}

// generation is one system generation as generations reports it.
type generation struct {
	Number  int       `json:"number"`
	Path    string    `json:"path"`
	Date    time.Time `json:"date"`
	Current bool      `json:"current"`
}

// Run lists the generations of the machine's system profile, oldest first,
// marking the one the profile points to.
func (c *GenerationsCmd) Run(a *App) error {
	f, m, err := a.openMachine(c.Name)
	if err != nil {
		return err
	}
	defer f.Close()
	conn, err := f.dial(a.ctx, m)
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	gens, err := remote.Generations(a.ctx, conn)
	if err != nil {
		return fmt.Errorf("machine %s: %w", m.Name, err)
	}
	out := make([]generation, len(gens))
	for i, g := range gens {
		out[i] = generation{Number: g.Number, Path: g.Path, Date: g.Date, Current: g.Current}
	}
	if c.JSON {
		return writeJSON(a.Stdout, out)
	}
	if len(out) == 0 {
		fmt.Fprintf(a.Stdout, "%s has no system generations: nothing was deployed to it with switch or boot.\n", m.Name)
		return nil
	}
	fmt.Fprintf(a.Stdout, "Generations of %s (%s):\n", m.Name, targetString(m.Target))
	col := a.colors()
	for _, g := range out {
		mark, note, b, r := " ", "", "", ""
		if g.Current {
			mark, note, b, r = "*", "  (current)", col.bold, col.reset
		}
		fmt.Fprintf(a.Stdout, "%s%s %4d  %s  %s%s%s\n", b, mark, g.Number, g.Date.UTC().Format(time.DateTime), g.Path, note, r)
	}
	return nil
}
