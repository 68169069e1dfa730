package nix

// Machine is one NixOS machine of a deployment, as evaluation sees it.
type Machine struct {
	// Name is the machine's name: the key in nodes, the `name` module
	// argument and the default networking.hostName (mkDefault).
	Name string
	// Modules are the machine's NixOS modules, the deployment's defaults
	// first. Order matters only for list definitions, as in NixOS.
	Modules []Module
	// Args are extra module arguments for every module of this machine
	// (specialArgs). They override name, nodes and resources when they use
	// the same names. Values follow engine/spec's value model; a spec.Unknown
	// or spec.Ref becomes an error when (and only when) a module uses it.
	Args map[string]any
	// System is the Nix system type to evaluate for ("x86_64-linux");
	// empty means the evaluating machine's own (builtins.currentSystem).
	// A machine from a flake has the flake's own and ignores it.
	System string
	// Flake, when set, is the flake configuration the machine extends
	// (see Flake) instead of evaluating nixpkgs' eval-config.nix.
	Flake *Flake
}

// Module is one NixOS module: a file, or Nix text written inline.
type Module struct {
	// Path is the absolute path of a .nix file holding the module.
	Path string
	// Inline is the module's Nix text, used when Path is empty. It is
	// written to the Nix store (builtins.toFile) and imported from there, so
	// a syntax error fails only this machine; relative paths in it would
	// resolve inside the store, so it should use none.
	Inline string
	// Args are extra arguments for this module only: a module file that is
	// a function receives them along with the usual module arguments
	// (ferry's nix.module("./x.nix", args = {...})).
	Args map[string]any
}
