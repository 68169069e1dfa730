{ config, lib, pkgs, ... }:
let cfg = config.services.forgejo; in
{
  options.services.forgejo = {
    enable = lib.mkEnableOption "forgejo";
    package = lib.mkPackageOption pkgs "forgejo" { };
    port = lib.mkOption { type = lib.types.port; default = 3000; };
  };
  config = lib.mkIf cfg.enable {
    system.extraDependencies = [ cfg.package ];
    users.users.forgejo = { isSystemUser = true; group = "forgejo"; };
  };
}
