# A Colmena hive as Colmena users write it. ferry reads it with
# colmena.hive("hive.nix"): meta.nixpkgs becomes the deployment's nixpkgs,
# meta.specialArgs reach every module, deployment.* give targets and tags.
{
  meta = {
    description = "a web server and its database";
    nixpkgs = import <nixpkgs> { };
    specialArgs.site = "example.org";
    nodeSpecialArgs.db.dbPort = 5432;
  };

  defaults = { site, pkgs, ... }: {
    networking.domain = site;
    environment.systemPackages = [ pkgs.htop ];
    services.openssh.enable = true;
  };

  web = { site, nodes, ... }: {
    deployment.targetHost = "10.0.0.10";
    deployment.tags = [ "web" ];
    deployment.keys."site-token" = { text = "not-a-real-token"; permissions = "0400"; };
    services.nginx.enable = true;
    services.nginx.virtualHosts.${site}.locations."/".proxyPass =
      "http://${nodes.db.config.deployment.targetHost}:8080";
  };

  db = { dbPort, ... }: {
    deployment.targetHost = "10.0.0.11";
    deployment.targetUser = "root";
    deployment.tags = [ "db" ];
    networking.firewall.allowedTCPPorts = [ dbPort ];
  };
}
