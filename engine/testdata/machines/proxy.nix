# The git server's port comes from its own evaluated configuration,
# through nodes; its address from ferry.star (args).
{ nodes, gitHost, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts.git.locations."/".proxyPass =
    "http://${gitHost}:${toString nodes.gitServer.config.services.forgejo.port}";
}
