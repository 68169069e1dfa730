# The stub as a flake, shaped like nixpkgs' own flake.nix: lib (with
# lib.nixosSystem) and legacyPackages, so a flake.nix written for nixpkgs
# (inputs.nixpkgs.url = "path:/.../testdata/nixpkgs") evaluates against it.
{
  description = "ferry's stub nixpkgs";

  outputs = { self }:
    let
      systems = [ "x86_64-linux" "aarch64-linux" ];
      lib = import ./lib;
    in
    {
      lib = lib // {
        # As in nixpkgs: eval-config.nix with the caller's modules; the
        # result has config, options and extendModules.
        nixosSystem = args: import ./nixos/lib/eval-config.nix args;
      };
      legacyPackages = lib.genAttrs systems (system: import ./. { inherit system; });
    };
}
