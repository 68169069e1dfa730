{ pkgs, ... }:
{
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.htop pkgs.vim ];
  system.stateVersion = "24.05";
}
