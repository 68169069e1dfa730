{ config, lib, pkgs, ... }:
let
  nfsMounts = lib.filter (fs: (fs.fsType or "auto") == "nfs") (lib.attrValues config.fileSystems);
in
{
  options.fileSystems = lib.mkOption {
    type = lib.types.attrsOf (lib.types.submodule { });
    default = { };
    description = "fileSystems.<mount point>.{device, fsType, autoFormat}.";
  };
  config.system.extraDependencies = lib.mkIf (nfsMounts != [ ]) [ pkgs.nfs-utils ];
}
