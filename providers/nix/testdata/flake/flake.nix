# A flake with two NixOS configurations, for ferry's tests. The tests lock
# it with nixpkgs overridden to path: the stub nixpkgs (nixtest.LockFlake).
{
  inputs.nixpkgs.url = "github:NixOS/nixpkgs/nixos-24.05";

  outputs = { self, nixpkgs }: {
    nixosConfigurations = {
      web = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [
          ({ nodes, ... }: {
            services.nginx.enable = true;
            services.nginx.virtualHosts.app.locations."/".proxyPass =
              "http://${nodes.db.config.networking.hostName}:5432";
          })
        ];
      };
      db = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ ./db.nix ];
      };
      broken = nixpkgs.lib.nixosSystem {
        system = "x86_64-linux";
        modules = [ { ferry.test.failEval = true; } ];
      };
    };
  };
}
