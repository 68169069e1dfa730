# The logical half of a classic two-file NixOps network: what runs where.
# nixops.network merges it with staging-targets.nix, node by node.
{
  network.description = "git server behind a proxy";

  defaults = { pkgs, ... }: {
    services.openssh.enable = true;
    environment.systemPackages = [ pkgs.htop ];
  };

  gitServer = { pkgs, ... }: {
    services.forgejo.enable = true;
    services.forgejo.port = 3000;
    environment.systemPackages = [ pkgs.git ];
  };

  proxy = { nodes, ... }: {
    services.nginx.enable = true;
    services.nginx.virtualHosts.git.locations."/".proxyPass =
      "http://${nodes.gitServer.config.deployment.targetHost}:${toString nodes.gitServer.config.services.forgejo.port}";
  };
}
