{ lib, ... }:
{
  options.users = {
    users = lib.mkOption { type = lib.types.attrsOf (lib.types.submodule { }); default = { }; };
    groups = lib.mkOption { type = lib.types.attrsOf (lib.types.submodule { }); default = { }; };
  };
}
