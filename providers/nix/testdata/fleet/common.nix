# Defaults for every machine of the test fleet.
{ pkgs, resources, ... }:
{
  networking.domain = resources.dns.zone;
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.htop ];
  users.users.admin = { isNormalUser = true; extraGroups = [ "wheel" ]; };
}
