# A web server; `release` names the version being rolled out.
{ pkgs, release, ... }:
{
  services.nginx.enable = true;
  environment.systemPackages = [ pkgs.nginx ];
  system.nixos.versionSuffix = ".release-${release}";
}
