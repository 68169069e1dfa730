package spec

// Kind is the type of an attribute as the configuration sees it.
type Kind string

const (
	KindString   Kind = "string"
	KindNumber   Kind = "number"
	KindBool     Kind = "bool"
	KindDuration Kind = "duration" // a string parsed by time.ParseDuration
	KindMap      Kind = "map"      // dict with string keys and any values
	KindList     Kind = "list"
	KindAny      Kind = "any"
)

// Attr describes one attribute of a resource type.
type Attr struct {
	Name      string
	Kind      Kind
	Doc       string
	Required  bool // an argument the user must pass
	Optional  bool // an argument the user may pass
	Default   any  // value used when an optional argument is omitted
	Computed  bool // set by the provider; readable, not passable (unless Optional)
	ForceNew  bool // a change replaces the resource
	Sensitive bool // redacted in plans and output
}

// Schema describes a resource type: its name as the user calls it
// ("null.resource") and its attributes. Every resource also has a "name"
// argument that is part of its address and not listed here.
type Schema struct {
	Type  string
	Doc   string
	Attrs []Attr
	// Version is the version of the shape of the type's state; state
	// written with an older version is upgraded by the provider
	// (providers.StateUpgrader) before it is used. 0 for the first.
	Version int
}

// Sensitive lists the sensitive attributes, sorted as declared.
func (s Schema) Sensitive() []string {
	var out []string
	for _, a := range s.Attrs {
		if a.Sensitive {
			out = append(out, a.Name)
		}
	}
	return out
}

// Attr finds an attribute by name.
func (s Schema) Attr(name string) (Attr, bool) {
	for _, a := range s.Attrs {
		if a.Name == name {
			return a, true
		}
	}
	return Attr{}, false
}
