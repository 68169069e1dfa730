{ lib, pkgs, ... }:
{
  options.environment.systemPackages = lib.mkOption {
    type = lib.types.listOf lib.types.package;
    default = [ ];
  };
  options.system.extraDependencies = lib.mkOption {
    type = lib.types.listOf lib.types.package;
    default = [ ];
    description = "Paths in the system closure that are not in sw/.";
  };
  config.environment.systemPackages = [ pkgs.coreutils pkgs.bash ];
}
