# The system each host runs once installed. Root's authorized keys must
# let ferry in after the reboot: the kexec installer carries the host's
# keys over, the installed system has only what its configuration says.
{ pkgs, rootKeys, ... }:
{
  users.users.root.openssh.authorizedKeys.keys = rootKeys;
  services.openssh.enable = true;
  environment.systemPackages = [ pkgs.htop ];
  system.stateVersion = "24.05";
}
