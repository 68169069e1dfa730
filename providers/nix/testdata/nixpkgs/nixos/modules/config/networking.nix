{ lib, ... }:
{
  options.networking = {
    hostName = lib.mkOption { type = lib.types.str; default = "nixos"; };
    domain = lib.mkOption { type = lib.types.nullOr lib.types.str; default = null; };
    firewall.enable = lib.mkOption { type = lib.types.bool; default = true; };
    firewall.allowedTCPPorts = lib.mkOption { type = lib.types.listOf lib.types.port; default = [ ]; };
  };
}
