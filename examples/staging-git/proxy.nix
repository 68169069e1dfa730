# gitHost comes from ferry.star (args); the port from the git server's own
# evaluated configuration, through `nodes`.
{ nodes, gitHost, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts.git.locations."/".proxyPass =
    "http://${gitHost}:${toString nodes.gitServer.config.services.forgejo.port}";
  networking.firewall.allowedTCPPorts = [ 80 ];
}
