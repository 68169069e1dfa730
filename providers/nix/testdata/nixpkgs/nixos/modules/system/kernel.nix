{ config, lib, pkgs, ... }:
{
  options.boot.kernelPackages = lib.mkOption {
    type = lib.types.raw;
    default = pkgs.linuxPackages;
    description = "A kernel package set, e.g. pkgs.linuxPackages_6_6.";
  };
  config.system.build.kernel = config.boot.kernelPackages.kernel;
}
