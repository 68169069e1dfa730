# A nixpkgs that is not NixOS: eval-config.nix returns a config with nothing
# but system.build.toplevel, plus, depending on the machine's `variant`
# argument (specialArgs), some of the options the boot files come from.
# Tests check that evaluation never fails over them (see BootFiles).
#   none       no boot options at all
#   throwing   every option throws, as an option used but not defined does
#   container  every option present, boot.isContainer = true
#   partial    a kernel and kernelFile; system.modulesTree is a list (no
#              apply), no initial ramdisk
#   noInitrd   every option present, boot.initrd.enable = false
#   full       every option present
{ modules, specialArgs ? { }, system ? builtins.currentSystem, ... }:
let
  variant = specialArgs.variant or "none";
  fake = name: derivation {
    inherit name system;
    builder = "/bin/sh";
    args = [ "-c" "echo ${name} > $out" ];
  };
  kernel = fake "bare-kernel";
  undefined = name: throw "The option `${name}' is used but not defined.";
  full = {
    boot.kernelPackages.kernel = kernel;
    system.boot.loader = { kernelFile = "Image"; initrdFile = "initrd.zst"; };
    system.build.initialRamdisk = fake "bare-initrd";
    system.modulesTree = fake "bare-modules";
  };
  configs = {
    none = { };
    throwing = {
      boot = undefined "boot.kernelPackages";
      system.boot.loader.kernelFile = undefined "system.boot.loader.kernelFile";
      system.boot.loader.initrdFile = "initrd";
      system.build.initialRamdisk = undefined "system.build.initialRamdisk";
      system.modulesTree = undefined "system.modulesTree";
    };
    container = full // { boot = full.boot // { isContainer = true; }; };
    partial = {
      boot.kernelPackages.kernel = kernel;
      system.boot.loader.kernelFile = "bzImage";
      system.modulesTree = [ kernel ];
    };
    noInitrd = full // { boot = full.boot // { initrd.enable = false; kernel.enable = true; }; };
    inherit full;
  };
  config = configs.${variant};
in
{
  config = config // {
    system = (config.system or { }) // {
      build = (config.system.build or { }) // { toplevel = fake "bare-system-${variant}"; };
    };
  };
}
