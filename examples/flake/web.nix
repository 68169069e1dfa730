# The web server. nodes comes from ferry (as in NixOps and Colmena): every
# machine's evaluated configuration. `nixos-rebuild --flake .#web` without
# ferry has no nodes, hence the default.
{ pkgs, nodes ? { }, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts.app.locations."/".proxyPass =
    "http://${nodes.db.config.networking.hostName or "db"}:5432";
  environment.systemPackages = [ pkgs.hello ];
  networking.firewall.allowedTCPPorts = [ 80 ];
}
