{ config, lib, pkgs, ... }:
let cfg = config.services.openssh; in
{
  options.services.openssh = {
    enable = lib.mkEnableOption "the OpenSSH daemon";
    package = lib.mkPackageOption pkgs "openssh" { };
  };
  config = lib.mkIf cfg.enable {
    environment.systemPackages = [ cfg.package ];
  };
}
