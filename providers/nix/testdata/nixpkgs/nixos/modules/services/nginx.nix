{ config, lib, pkgs, ... }:
let cfg = config.services.nginx; in
{
  options.services.nginx = {
    enable = lib.mkEnableOption "nginx";
    package = lib.mkPackageOption pkgs "nginx" { };
    virtualHosts = lib.mkOption {
      type = lib.types.attrsOf (lib.types.submodule { });
      default = { };
      description = "virtualHosts.<name>.locations.<path>.proxyPass and friends.";
    };
  };
  config = lib.mkIf cfg.enable {
    system.extraDependencies = [ cfg.package ];
    users.users.nginx = { isSystemUser = true; group = "nginx"; };
  };
}
