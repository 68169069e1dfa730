# The kernel, its modules and the initrd, with the option names of NixOS, so
# that the system's kernel, initrd and kernel-modules links resolve to
#   ${config.boot.kernelPackages.kernel}/${config.system.boot.loader.kernelFile}
#   ${config.system.build.initialRamdisk}/${config.system.boot.loader.initrdFile}
#   ${config.system.modulesTree}
# as on NixOS. The initrd depends on the kernel (its name and content carry
# the kernel's version, as a real initrd holds the kernel's modules) and on
# boot.initrd.{kernelModules, ferryStubContent}, so a test can change only
# the initrd.
{ config, lib, pkgs, ... }:
let
  kernel = config.boot.kernelPackages.kernel;
  loader = config.system.boot.loader;
  initrd = config.boot.initrd;
in
{
  options.boot.kernelPackages = lib.mkOption {
    type = lib.types.raw;
    default = pkgs.linuxPackages;
    description = "A kernel package set, e.g. pkgs.linuxPackages_6_6.";
  };
  options.boot.initrd.kernelModules = lib.mkOption {
    type = lib.types.listOf lib.types.str;
    default = [ ];
    description = "Names of kernel modules the initrd loads (listed in the stub's initrd).";
  };
  options.boot.initrd.ferryStubContent = lib.mkOption {
    type = lib.types.lines;
    default = "";
    description = "Text written into the stub's initrd: changing it changes only the initrd.";
  };
  options.system.boot.loader.kernelFile = lib.mkOption {
    type = lib.types.str;
    default = "bzImage";
    description = "Name of the kernel image in the kernel package.";
  };
  options.system.boot.loader.initrdFile = lib.mkOption {
    type = lib.types.str;
    default = "initrd";
    description = "Name of the initrd file in system.build.initialRamdisk.";
  };
  # NixOS declares a list of packages and applies pkgs.aggregateModules; the
  # stub's options have no apply, so this is the aggregated tree itself.
  options.system.modulesTree = lib.mkOption {
    type = lib.types.package;
    default = pkgs.aggregateModules [ kernel ];
    description = "The kernel modules tree the system's kernel-modules link points at.";
  };

  config.system.build.kernel = kernel;
  config.system.build.initialRamdisk = derivation {
    name = "initrd-${kernel.name}";
    inherit (pkgs) system;
    builder = "/bin/sh";
    args = [ ./initrd.sh ];
    PATH = "/usr/bin:/bin";
    inherit kernel;
    kernelVersion = kernel.version;
    inherit (loader) initrdFile;
    kernelModules = initrd.kernelModules;
    content = initrd.ferryStubContent;
  };
}
