# A NixOps network as NixOps users write it: one existing host serving a page.
# Its arguments come from `nixops set-args`, here from ferry.star's args.
{ webHost ? "10.0.0.4", webPort ? 22, ... }:
{
  network.description = "trivial web server";

  webserver = { pkgs, ... }: {
    deployment.targetEnv = "none";
    deployment.targetHost = webHost;
    deployment.targetPort = webPort;
    deployment.tags = [ "web" ];
    services.nginx.enable = true;
    services.nginx.virtualHosts.default.locations."/".proxyPass = "http://127.0.0.1:8080";
    networking.firewall.allowedTCPPorts = [ 80 ];
  };
}
