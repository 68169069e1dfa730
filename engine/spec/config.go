package spec

// Config is the desired configuration of one deployment, as lang produces it
// from ferry.star: neutral data with positions, no Starlark left in it.
type Config struct {
	Deployment  string // from deployment(name=...), or "" when not declared
	Description string
	Dir         string      // absolute path of the configuration directory
	Resources   []*Resource // in declaration order
	Outputs     []*Output   // in declaration order
	Machines    []*Machine  // in declaration order
	// Nixpkgs is the nixpkgs path from nixpkgs(path=...), absolute; ""
	// means <nixpkgs> from NIX_PATH.
	Nixpkgs string
	// Rollout is the rolling deployment policy from rollout(), or nil.
	Rollout *Rollout
	Inputs  Inputs
}

// Resource is one declared resource.
type Resource struct {
	Addr string         // "null.resource.a"
	Type string         // "null.resource"
	Name string         // "a"
	Args map[string]any // arguments with defaults applied; may contain Ref
	// DependsOn lists explicit dependencies (depends_on = [...]) by
	// address; references inside Args are dependencies too.
	DependsOn []string
	Pos       Pos // where it was declared
}

// Output is one declared output value; Value may contain Ref.
type Output struct {
	Name  string
	Value any
	Pos   Pos
}

// Inputs is everything evaluation read: used for the plan's input digest so
// that apply can refuse a plan whose inputs changed.
type Inputs struct {
	// Files maps a path relative to Config.Dir (slash-separated) to the
	// hex sha256 of its content, for every file loaded.
	Files map[string]string
	// Vars holds the value of every var() that was read.
	Vars map[string]string
}

// ResourceByAddr finds a declared resource.
func (c *Config) ResourceByAddr(addr string) *Resource {
	for _, r := range c.Resources {
		if r.Addr == addr {
			return r
		}
	}
	return nil
}
