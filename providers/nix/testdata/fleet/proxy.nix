# A reverse proxy in front of the git server; gitHost comes from ferry
# (nix.module("./proxy.nix", args = {"gitHost": ...})).
{ nodes, gitHost, lib, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts."git.example.com".locations."/".proxyPass =
    "http://${gitHost}:${toString nodes.gitServer.config.services.forgejo.port}";
}
