{ pkgs, ... }:
{
  services.forgejo.enable = true;
  services.forgejo.port = 3042;
  environment.systemPackages = [ pkgs.git ];
}
