# Two NixOS machines as a flake: ferry deploys nixosConfigurations.web and
# nixosConfigurations.db (see ferry.star and README.md).
{
  description = "web and db, deployed by ferry";

  # What a real deployment writes. ferry's tests lock this input to the
  # stub nixpkgs instead (path:, offline): see README.md.
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }: {
    nixosConfigurations = {
      web = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./web.nix ];
      };
      db = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./db.nix ];
      };
    };
  };
}
