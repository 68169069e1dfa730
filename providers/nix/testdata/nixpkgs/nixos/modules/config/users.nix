{ lib, ... }:
let
  # users.users.<name>.openssh.authorizedKeys.keys, as NixOS declares it
  # (the test hosts keep root's authorized_keys file of their own).
  user = lib.types.submodule {
    options.openssh.authorizedKeys.keys = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };
in
{
  options.users = {
    users = lib.mkOption { type = lib.types.attrsOf user; default = { }; };
    groups = lib.mkOption { type = lib.types.attrsOf (lib.types.submodule { }); default = { }; };
  };
}
