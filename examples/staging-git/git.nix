{ pkgs, ... }:
{
  services.forgejo.enable = true;
  services.forgejo.port = 3000;
  environment.systemPackages = [ pkgs.git ];
  networking.firewall.allowedTCPPorts = [ 3000 ];
}
