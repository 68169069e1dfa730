package plan

import (
	"sort"
	"time"
)

// FormatVersion is the version of the plan file format this ferry writes.
const FormatVersion = 1

// Action is what apply does to one resource.
type Action string

const (
	Create  Action = "create"
	Update  Action = "update"
	Replace Action = "replace"
	Delete  Action = "delete"
	Noop    Action = "noop"
)

// Plan is a reviewed unit of work.
type Plan struct {
	FormatVersion int       `json:"format_version"`
	FerryVersion  string    `json:"ferry_version"`
	Deployment    string    `json:"deployment"`
	CreatedAt     time.Time `json:"created_at"`
	Destroy       bool      `json:"destroy,omitempty"`
	Targets       []string  `json:"targets,omitempty"`

	// State is the snapshot the plan was computed against; apply refuses
	// the plan when the state has moved on.
	State StateRef `json:"state"`
	// Inputs digests everything evaluation read.
	Inputs Inputs `json:"inputs"`

	Resources []*Resource `json:"resources"`          // sorted by address
	Machines  []*Machine  `json:"machines,omitempty"` // sorted by address
	// Nixpkgs is the nixpkgs the machines were evaluated with.
	Nixpkgs string    `json:"nixpkgs,omitempty"`
	Outputs []*Output `json:"outputs,omitempty"`
	// Edges are execution edges between resource addresses: [from, to]
	// means from completes before to starts. Sorted.
	Edges [][2]string `json:"edges"`
}

// StateRef identifies a state snapshot.
type StateRef struct {
	Lineage string `json:"lineage"`
	Serial  uint64 `json:"serial"`
}

// Inputs records the digest of every input of the evaluation.
type Inputs struct {
	// Digest is the sha256 over Files and Vars, "sha256:<hex>".
	Digest string `json:"digest"`
	// Files maps config-relative paths to the sha256 of their content.
	Files map[string]string `json:"files"`
	// Vars maps var names to the sha256 of their value: values may be
	// secret, so only hashes are written.
	Vars map[string]string `json:"vars,omitempty"`
}

// Resource is the planned change of one resource.
type Resource struct {
	Addr   string `json:"address"`
	Type   string `json:"type"`
	Action Action `json:"action"`
	// Reason says why, when it is not obvious: "drift: deleted outside
	// ferry", "requested with --replace", "not in configuration".
	Reason string `json:"reason,omitempty"`
	// Before is the prior state (nil for create), After the planned
	// attributes (nil for delete), Unknown leaves encoded.
	Before map[string]any `json:"before,omitempty"`
	After  map[string]any `json:"after,omitempty"`
	// ReplaceBecause lists the attributes that force a replacement.
	ReplaceBecause []string `json:"replace_because,omitempty"`
	// Args are the configured arguments with references, resolved by
	// apply against the results of the resources they reference.
	Args map[string]any `json:"args,omitempty"`
	// Deps are the direct dependencies recorded in state after apply.
	Deps       []string `json:"deps,omitempty"`
	DeclaredAt string   `json:"declared_at,omitempty"`
}

// Output is a declared output with its value expression.
type Output struct {
	Name       string `json:"name"`
	Value      any    `json:"value"`
	DeclaredAt string `json:"declared_at,omitempty"`
}

// Machine actions.
const (
	Deploy Action = "deploy" // build, copy, activate
	Forget Action = "forget" // no longer in the configuration: forget it, leave the host alone
)

// Machine is the planned deployment of one NixOS machine. Apply builds,
// copies and activates exactly Drv/Path; it never evaluates again.
type Machine struct {
	Name   string `json:"name"`
	Addr   string `json:"address"`
	Action Action `json:"action"` // deploy, noop, forget
	Reason string `json:"reason,omitempty"`
	Target Target `json:"target"`
	// Drv and Path are the pinned toplevel derivation and output.
	Drv  string `json:"drv,omitempty"`
	Path string `json:"path,omitempty"`
	// Previous is the system ferry deployed last (from state); Current is
	// what the host ran when the plan was made ("" when not read).
	Previous string `json:"previous,omitempty"`
	Current  string `json:"current,omitempty"`
	// CurrentRead tells whether Current was read from the host; apply
	// refuses the host when it has changed since.
	CurrentRead bool   `json:"current_read,omitempty"`
	Activate    string `json:"activate,omitempty"` // switch, boot, test, dry-activate
	// Packages is the package-level difference from Previous (or Current).
	Packages      *PackageDiff `json:"packages,omitempty"`
	BuildOnTarget bool         `json:"build_on_target,omitempty"`
	Tags          []string     `json:"tags,omitempty"`
	Deps          []string     `json:"deps,omitempty"`
	DeclaredAt    string       `json:"declared_at,omitempty"`
}

// Target is how apply reaches a machine.
type Target struct {
	Host    string  `json:"host"`
	Port    int     `json:"port"`
	User    string  `json:"user"`
	HostKey string  `json:"host_key,omitempty"` // pinned: from config, state, or seen at plan time
	Jump    *Target `json:"jump,omitempty"`
	Sudo    bool    `json:"sudo,omitempty"`
}

// PackageDiff lists added, removed and changed packages.
type PackageDiff struct {
	Added   []Package `json:"added,omitempty"`
	Removed []Package `json:"removed,omitempty"`
	Changed []Package `json:"changed,omitempty"`
}

// Package is a name-version pair; OldVersion is set for changes.
type Package struct {
	Name       string `json:"name"`
	Version    string `json:"version,omitempty"`
	OldVersion string `json:"old_version,omitempty"`
}

// Counts tallies the actions of a plan the way Terraform's summary does:
// a replacement counts as one add and one destroy.
type Counts struct{ Add, Change, Destroy, Noop, Deploy, Unchanged int }

// Count returns the plan's action counts.
func (p *Plan) Count() Counts {
	var c Counts
	for _, r := range p.Resources {
		switch r.Action {
		case Create:
			c.Add++
		case Update:
			c.Change++
		case Replace:
			c.Add++
			c.Destroy++
		case Delete:
			c.Destroy++
		case Noop:
			c.Noop++
		}
	}
	for _, m := range p.Machines {
		if m.Action == Deploy {
			c.Deploy++
		} else {
			c.Unchanged++
		}
	}
	return c
}

// HasChanges reports whether applying p would change anything.
func (p *Plan) HasChanges() bool {
	c := p.Count()
	if c.Add+c.Change+c.Destroy+c.Deploy > 0 {
		return true
	}
	for _, m := range p.Machines {
		if m.Action == Forget {
			return true
		}
	}
	return false
}

// Machine finds a planned machine by address.
func (p *Plan) Machine(addr string) *Machine {
	for _, m := range p.Machines {
		if m.Addr == addr {
			return m
		}
	}
	return nil
}

// Resource finds a planned resource by address.
func (p *Plan) Resource(addr string) *Resource {
	i := sort.Search(len(p.Resources), func(i int) bool { return p.Resources[i].Addr >= addr })
	if i < len(p.Resources) && p.Resources[i].Addr == addr {
		return p.Resources[i]
	}
	return nil
}

// Normalize sorts everything that must be sorted; Encode calls it.
func (p *Plan) Normalize() {
	sort.Slice(p.Resources, func(i, j int) bool { return p.Resources[i].Addr < p.Resources[j].Addr })
	sort.Slice(p.Machines, func(i, j int) bool { return p.Machines[i].Addr < p.Machines[j].Addr })
	sort.Slice(p.Outputs, func(i, j int) bool { return p.Outputs[i].Name < p.Outputs[j].Name })
	sort.Slice(p.Edges, func(i, j int) bool {
		if p.Edges[i][0] != p.Edges[j][0] {
			return p.Edges[i][0] < p.Edges[j][0]
		}
		return p.Edges[i][1] < p.Edges[j][1]
	})
	if p.Edges == nil {
		p.Edges = [][2]string{}
	}
	if p.Resources == nil {
		p.Resources = []*Resource{}
	}
	for _, r := range p.Resources {
		sort.Strings(r.Deps)
		sort.Strings(r.ReplaceBecause)
	}
}
