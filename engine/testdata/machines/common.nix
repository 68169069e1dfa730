# Every machine gets this (defaults).
{ pkgs, ... }:
{
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.htop ];
}
