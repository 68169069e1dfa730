# A system with a big closure for the transfer benchmark: var("blobs")
# store paths of var("blob_kib") KiB of random bytes each (incompressible,
# as most of a real closure is to zstd's eyes), rebuilt for every nonce and
# shared by every machine; only the system itself differs per host.
{ nonce, blobs, blobKiB, ... }:
{
  services.openssh.enable = true;
  system.extraDependencies = builtins.genList (i: derivation {
    name = "ferry-bench-blob-${toString i}-n${nonce}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "/usr/bin/head -c ${toString (blobKiB * 1024)} /dev/urandom > $out" ];
  }) blobs;
}
