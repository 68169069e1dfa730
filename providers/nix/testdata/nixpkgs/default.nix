# ferry's stub nixpkgs: a handful of fake packages built by real Nix with
# /bin/sh (no network, no stdenv), the library functions NixOS modules use,
# and a tiny NixOS (./nixos/lib/eval-config.nix). See README.md.
{ system ? builtins.currentSystem
, overlays ? [ ]
, config ? { }
, ...
}:
let
  lib = import ./lib;
  base = final: import ./pkgs/all-packages.nix { inherit lib system final; };
  # overlays are functions final: prev: { ... }, applied in order.
  extend = f: overlay: final: let prev = f final; in prev // overlay final prev;
in
lib.fix (lib.foldl' extend base overlays)
