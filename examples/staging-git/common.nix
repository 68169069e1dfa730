# The NixOps `defaults`: every machine of the deployment gets this.
{ pkgs, ... }:
{
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.htop ];
  system.stateVersion = "24.05";
}
