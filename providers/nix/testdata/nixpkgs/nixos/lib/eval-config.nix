# The stub's NixOS entry point, with the signature of nixpkgs'
# nixos/lib/eval-config.nix. Returns { config, options, pkgs, lib, ... };
# config.system.build.toplevel is the system derivation.
{ modules
, specialArgs ? { }
, system ? builtins.currentSystem
, pkgs ? null
, baseModules ? import ../modules/module-list.nix
, extraModules ? [ ]
, prefix ? [ ]
, lib ? import ../../lib
, ...
}:
let
  pkgs' = if pkgs != null then pkgs else import ../.. { inherit system; };
  eval = lib.evalModules {
    modules = baseModules ++ extraModules ++ modules;
    args = { pkgs = pkgs'; modulesPath = toString ../modules; };
    inherit specialArgs prefix;
  };
in
eval // { pkgs = pkgs'; inherit lib; type = "configuration"; }
