# Stub NixOS systems for remote's tests, built by real Nix with /bin/sh (no
# nixpkgs). Each system's closure has three paths: the system, its "etc" and a
# "lib" shared by all systems. bin/switch-to-configuration records its action
# in the host's /run/ferry-test-actions and, like NixOS, points
# /run/current-system at the system for switch and test.
let
  build = name: script: extra: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // extra);

  lib = build "ferry-test-lib" "echo 'shared library' > $out" { };

  etc = name: build "${name}-etc" ''
    mkdir -p $out
    echo "$lib" > $out/uses-lib
    echo "${name}" > $out/hostname
  '' { inherit lib; };

  recordAction = ''
    echo "$1 $self" >> /run/ferry-test-actions
    case "$1" in switch|test) ln -sfn "$self" /run/current-system ;; esac
  '';

  system = name: body: build name ''
    mkdir -p $out/bin
    ln -s $etc $out/etc
    { echo '#!/bin/sh'; echo "self=$out"; printf '%s\n' "$body"; } > $out/bin/switch-to-configuration
    chmod +x $out/bin/switch-to-configuration
  '' { etc = etc name; inherit body; };
in
{
  good = system "ferry-test-system-good" recordAction;
  alt = system "ferry-test-system-alt" recordAction;
  spare = system "ferry-test-system-spare" recordAction;
  broken = system "ferry-test-system-broken" (recordAction + ''
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
      echo "starting unit-$i.service"
    done
    echo "error: unit broken.service failed to start" >&2
    exit 4
  '');
}
