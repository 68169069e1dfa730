# A stand-in for disko's NixOS module (github:nix-community/disko,
# disko.nixosModules.disko), with its option disko.devices and its
# generated script config.system.build.diskoScript (destroy, format and
# mount, as disko's is). Import it as "${modulesPath}/disko".
#
# It knows only what ferry's test bed can run: disk.<name> = { device;
# type = "disk"; content = { type = "gpt"; partitions.<name> = { size
# ("64M", or "100%" for the rest); type ("EF00" for an EFI system
# partition); priority (smaller first; then by name); content = { type =
# "filesystem"; format = "ext4" | "vfat"; mountpoint; }; }; }; }. The
# script partitions each disk with sfdisk, makes the kernel see the
# partitions with partx -a (this kernel has no partition-table parser),
# formats them with mkfs.ext4 and mkfs.vfat, and mounts the ext4 file
# systems under /mnt ("/" first). FAT file systems are not mounted (no
# vfat driver here): the nixos-install stand-in finds the ESP on the disk
# and writes it with mtools. Anything else (LUKS, LVM, ZFS, btrfs
# subvolumes, mbr tables) is an evaluation error naming what the stub
# lacks.
{ config, lib, ... }:
let
  disks = config.disko.devices.disk or { };
  byPriority = parts: builtins.sort
    (a: b: if a.priority == b.priority then a.name < b.name else a.priority < b.priority)
    (lib.mapAttrsToList (name: p: p // { inherit name; priority = p.priority or 1000; }) parts);
  unsupported = what: throw "the stub disko module (ferry's test bed) does not support ${what}";
  partitionsOf = name: d:
    let c = d.content or (unsupported "disk ${name} without content"); in
    if (c.type or "") != "gpt" then unsupported "content type ${c.type or "null"} on disk ${name} (only gpt)"
    else byPriority (c.partitions or { });
  sfdiskLine = p:
    let size = p.size or "100%"; in
    ",${if size == "100%" then "" else size},${if (p.type or "") == "EF00" then "U" else "L"}";
  fsOf = dname: p:
    let c = p.content or { type = "none"; }; in
    if c.type == "none" then null
    else if c.type != "filesystem" then unsupported "content type ${c.type} of partition ${p.name} on disk ${dname}"
    else if !(lib.elem c.format [ "ext4" "vfat" ]) then unsupported "format ${c.format} of partition ${p.name} on disk ${dname} (ext4, vfat)"
    else c;
  diskScript = name: d:
    let
      parts = partitionsOf name d;
      numbered = lib.imap1 (i: p: { inherit i p; fs = fsOf name p; }) parts;
    in
    ''
      dev=${d.device}
      if [ ! -b "$dev" ]; then echo "disko: $dev (disk ${name}) is not a block device" >&2; exit 1; fi
      case "$dev" in *[0-9]) part="''${dev}p" ;; *) part="$dev" ;; esac
      partx -d "$dev" 2>/dev/null || true
      printf 'label: gpt\n${lib.concatMapStringsSep "\\n" sfdiskLine parts}\n' | sfdisk --quiet --wipe always --wipe-partitions always "$dev"
      partx -a "$dev"
    '' + lib.concatMapStrings
      ({ i, p, fs }:
        if fs == null then ""
        else if fs.format == "ext4" then "mkfs.ext4 -q -F -L ${p.name} \"\${part}${toString i}\"\n"
        else "mkfs.vfat -n ${lib.toUpper (builtins.substring 0 11 p.name)} \"\${part}${toString i}\" >/dev/null\n")
      numbered;
  mounts = builtins.sort (a: b: a.mountpoint < b.mountpoint) (lib.concatLists (lib.mapAttrsToList
    (name: d: lib.concatLists (lib.imap1
      (i: p:
        let fs = fsOf name p; in
        if fs == null || fs.format != "ext4" || !(fs ? mountpoint) then [ ]
        else [{ inherit i; inherit (fs) mountpoint; device = d.device; }])
      (partitionsOf name d)))
    disks));
  mountScript = lib.concatMapStrings
    (m: ''
      case ${m.device} in *[0-9]) p=${m.device}p${toString m.i} ;; *) p=${m.device}${toString m.i} ;; esac
      mkdir -p /mnt${m.mountpoint}
      mount "$p" /mnt${m.mountpoint}
    '')
    mounts;
  text = ''
    #!/bin/sh
    # disko (ferry's stub): destroy, format and mount the disks of ${config.networking.hostName}
    set -eu
    umount -R /mnt 2>/dev/null || true
  '' + lib.concatStrings (lib.mapAttrsToList diskScript disks) + mountScript;
in
{
  options.disko.devices = lib.mkOption {
    type = lib.types.attrs;
    default = { };
    description = "disko's layout: disk.<name>.{device, type, content} (see the file's comment for what the stub supports).";
  };
  config.system.build.diskoScript = derivation {
    name = "disko-${config.networking.hostName}";
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" "printf '%s' \"$text\" > $out && /bin/chmod 755 $out" ];
    inherit text;
  };
}
