# mkFake builds a fake package with ./fake-package.sh; fetchFake is a fake
# fixed-output source whose hash Nix computes from its content.
{ lib, system }:
rec {
  mkFake =
    { pname
    , version
    , deps ? [ ]
    , bins ? [ pname ]
    , src ? null
    , kernel ? false
    , fail ? false
    , description ? "${pname}, a fake package of ferry's stub nixpkgs"
    }@args:
    let
      drv = derivation {
        name = "${pname}-${version}";
        inherit system pname version deps bins;
        builder = "/bin/sh";
        args = [ ./fake-package.sh ];
        PATH = "/usr/bin:/bin";
        src = if src == null then "" else src;
        kernel = if kernel then "1" else "";
        fail = if fail then "1" else "";
      };
    in
    drv // {
      meta = { inherit description; };
      # Like nixpkgs: pkgs.hello.overrideAttrs (old: { version = "2.13"; }).
      overrideAttrs = f: mkFake (args // f args);
      passthru = { };
    };

  fetchFake = { name, content ? "fake source of ${name}\n" }:
    derivation {
      inherit name system content;
      builder = "/bin/sh";
      args = [ "-c" "printf '%s' \"$content\" > \"$out\"" ];
      outputHashMode = "flat";
      outputHashAlgo = "sha256";
      outputHash = builtins.hashString "sha256" content;
    };
}
