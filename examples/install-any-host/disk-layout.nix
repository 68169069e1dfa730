# The disk layout disko partitions, formats and mounts at /mnt before the
# install: a GPT with an EFI system partition and an ext4 root filling the
# rest. The disk is WIPED: the plan names it with its size, model, serial
# and what it holds now.
#
# disko.devices is the option of disko's NixOS module
# (github:nix-community/disko); ferry.star imports it from disko_module:
#   - a channel: nix-channel --add https://github.com/nix-community/disko/archive/master.tar.gz disko
#     (the default, "<disko/module.nix>");
#   - a fetched tarball: --var 'disko_module="${builtins.fetchTarball "https://github.com/nix-community/disko/archive/master.tar.gz"}/module.nix"';
#   - a flake (see examples/flake): add the input
#     disko.url = "github:nix-community/disko"; and put
#     disko.nixosModules.disko and this file in the system's modules.
# ferry's tests import the stub of their test nixpkgs instead
# (disko_module = "${modulesPath}/disko"), which knows exactly this shape.
{ disk, ... }: {
  disko.devices.disk.main = {
    device = disk;
    type = "disk";
    content = {
      type = "gpt";
      partitions = {
        ESP = {
          size = "512M";
          type = "EF00";
          priority = 1;
          content = { type = "filesystem"; format = "vfat"; mountpoint = "/boot"; };
        };
        root = {
          size = "100%";
          content = { type = "filesystem"; format = "ext4"; mountpoint = "/"; };
        };
      };
    };
  };
}
