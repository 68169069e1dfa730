package cli

import (
	"strings"

	"github.com/alecthomas/kong"
)

// Terraform spells long flags with one dash (-out=FILE, -var K=V,
// -auto-approve); ferry, with kong, with two. Left alone, kong reads
// -out=FILE as the short flags -o ut=FILE and -destroy as -d estroy,
// silently. longSingleDash rewrites, before anything parses or runs, every
// -NAME or -NAME=VALUE whose NAME (two letters or more) is one of ferry's
// long flags into --NAME[=VALUE], so Terraform's habits work; kong then
// checks the flag belongs to the command as usual. A word that is not a
// long flag's name is left alone: -Cdir is still -C dir. Scanning stops
// at "--", and at the first positional word of a command that passes
// words through (ssh, exec), so a remote command's own flags are kept.
func longSingleDash(app *kong.Application, args []string) []string {
	names := map[string]bool{}
	var collect func(n *kong.Node)
	collect = func(n *kong.Node) {
		for _, f := range n.Flags {
			names[f.Name] = true
			for _, a := range f.Aliases {
				names[a] = true
			}
		}
		for _, c := range n.Children {
			collect(c)
		}
	}
	collect(app.Node)

	out := make([]string, len(args))
	copy(out, args)
	node := app.Node
	for i, arg := range out {
		if arg == "--" {
			break
		}
		if !strings.HasPrefix(arg, "-") {
			if child := childCommand(node, arg); child != nil {
				node = child
				continue
			}
			if passesThrough(node) {
				break
			}
			continue
		}
		if strings.HasPrefix(arg, "--") {
			continue
		}
		name, _, _ := strings.Cut(arg[1:], "=")
		if len(name) >= 2 && names[name] {
			out[i] = "-" + arg
		}
	}
	return out
}

// childCommand is n's subcommand called name (or an alias), or nil.
func childCommand(n *kong.Node, name string) *kong.Node {
	for _, c := range n.Children {
		if c.Type != kong.CommandNode {
			continue
		}
		if c.Name == name {
			return c
		}
		for _, a := range c.Aliases {
			if a == name {
				return c
			}
		}
	}
	return nil
}

// passesThrough reports whether n takes words it hands on unparsed.
func passesThrough(n *kong.Node) bool {
	for _, p := range n.Positional {
		if p.PassthroughMode != kong.PassThroughModeNone {
			return true
		}
	}
	return false
}
