# The fake package set. Every package is a derivation named name-version with
# a bin/ script printing its name and version and a runtime reference to its
# dependencies, so closures have several paths. A few packages have a fake
# fixed-output source (like a fetchurl tarball) in their derivation closure.
{ lib, system, final }:
let
  fake = import ./fake.nix { inherit lib system; };
  inherit (fake) mkFake fetchFake;
  linuxPackagesFor = kernel: { _type = "package-set"; inherit kernel; };

  # Like nixpkgs' aggregateModules: one tree (lib/modules/<version>) of the
  # kernel modules of the given packages; NixOS's system.modulesTree.
  aggregateModules = modules: derivation {
    name = "kernel-modules";
    inherit system modules;
    builder = "/bin/sh";
    args = [ ./aggregate-modules.sh ];
    PATH = "/usr/bin:/bin";
  };
in
{
  inherit lib system;
  # The nixpkgs source tree, as nixpkgs' pkgs.path (Colmena's meta.nixpkgs may be a package set).
  path = ../.;
  inherit mkFake fetchFake;
  inherit linuxPackagesFor aggregateModules;

  glibc = mkFake { pname = "glibc"; version = "2.38"; bins = [ "ldd" ]; };
  zlib = mkFake { pname = "zlib"; version = "1.3"; bins = [ ]; deps = [ final.glibc ]; };
  openssl = mkFake { pname = "openssl"; version = "3.0.12"; deps = [ final.glibc final.zlib ]; };
  bash = mkFake { pname = "bash"; version = "5.2"; deps = [ final.glibc ]; };
  coreutils = mkFake { pname = "coreutils"; version = "9.4"; bins = [ "ls" "cat" ]; deps = [ final.glibc ]; };
  hello = mkFake {
    pname = "hello";
    version = "2.12";
    deps = [ final.glibc ];
    src = fetchFake { name = "hello-2.12.tar.gz"; };
  };
  nginx = mkFake {
    pname = "nginx";
    version = "1.24.0";
    deps = [ final.openssl final.zlib ];
    src = fetchFake { name = "nginx-1.24.0.tar.gz"; };
  };
  openssh = mkFake { pname = "openssh"; version = "9.6"; bins = [ "ssh" "sshd" ]; deps = [ final.openssl ]; };
  git = mkFake { pname = "git"; version = "2.43.0"; deps = [ final.openssl final.zlib ]; };
  forgejo = mkFake { pname = "forgejo"; version = "1.21.0"; bins = [ "gitea" ]; deps = [ final.git final.openssh ]; };
  nfs-utils = mkFake { pname = "nfs-utils"; version = "2.6.2"; bins = [ "exportfs" "mount.nfs" ]; deps = [ final.glibc ]; };
  postgresql = mkFake { pname = "postgresql"; version = "15.5"; bins = [ "psql" "postgres" ]; deps = [ final.openssl ]; };
  htop = mkFake { pname = "htop"; version = "3.2.2"; deps = [ final.glibc ]; };
  vim = mkFake { pname = "vim"; version = "9.0.2116"; deps = [ final.glibc ]; };

  # A package whose build always fails, to test dependency failures.
  broken = mkFake { pname = "broken"; version = "1.0"; deps = [ final.glibc ]; fail = true; };

  linux_6_1 = mkFake { pname = "linux"; version = "6.1.0"; bins = [ ]; kernel = true; };
  linux_6_6 = mkFake { pname = "linux"; version = "6.6.8"; bins = [ ]; kernel = true; };
  linuxPackages_6_1 = linuxPackagesFor final.linux_6_1;
  linuxPackages_6_6 = linuxPackagesFor final.linux_6_6;
  linuxPackages = final.linuxPackages_6_1;
  linuxPackages_latest = final.linuxPackages_6_6;
}
