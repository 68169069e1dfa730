# The stub of NixOS's EC2 image module (imported by configurations of EC2
# machines): the image's root file system and OpenSSH. The real one also
# reads the SSH host key from the user data and grows the root partition.
{ lib, ... }:
{
  fileSystems."/" = lib.mkDefault { device = "/dev/disk/by-label/nixos"; fsType = "ext4"; autoResize = true; };
  services.openssh.enable = true;
}
