{ config, lib, pkgs, ... }:
let cfg = config.services.nfs.server; in
{
  options.services.nfs.server = {
    enable = lib.mkEnableOption "the NFS server";
    exports = lib.mkOption { type = lib.types.lines; default = ""; };
  };
  config = lib.mkIf cfg.enable {
    system.extraDependencies = [ pkgs.nfs-utils ];
  };
}
