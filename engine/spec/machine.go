package spec

// Machine is one declared NixOS machine: where it runs (Target) and what
// runs on it (Modules).
type Machine struct {
	Name string
	Addr string // "machine.NAME"
	// Target says how the machine is reached.
	Target Target
	// Modules are the NixOS modules, the deployment's defaults first.
	Modules []Module
	Tags    []string
	// DependsOn lists addresses (resources or machines) deployed first.
	DependsOn []string
	// BuildOnTarget builds the system on the machine instead of locally.
	BuildOnTarget bool
	Pos           Pos
}

// Target describes how ferry reaches a machine. Kind "ssh" is an existing
// NixOS host (NixOps targetEnv "none").
type Target struct {
	Kind    string // "ssh"
	Host    string
	Port    int    // default 22
	User    string // default "root"
	HostKey string // authorized_keys form; "" = trust on first use, pinned in state
	Jump    *Target
	Sudo    bool
	Pos     Pos
}

// Module is one NixOS module: a file or inline Nix text, with extra
// arguments passed to it (which may contain Ref).
type Module struct {
	Path   string // absolute path of a .nix file; "" for inline
	Inline string
	Args   map[string]any
	Pos    Pos
}

// MachineByName finds a declared machine.
func (c *Config) MachineByName(name string) *Machine {
	for _, m := range c.Machines {
		if m.Name == name {
			return m
		}
	}
	return nil
}
