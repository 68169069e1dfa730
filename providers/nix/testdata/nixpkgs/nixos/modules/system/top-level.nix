# system.build.toplevel: the system derivation, named
# nixos-system-<hostName>-<version>. It holds bin/switch-to-configuration,
# sw/ (the systemPackages' bin/ entries, ferry-health and reboot), kernel,
# initrd, kernel-modules, nixos-version and etc/ferry-config.json (the
# interesting parts of the merged config, for tests that check
# cross-references between machines).
{ config, lib, pkgs, ... }:
let
  cfg = config.system;
  kernel = config.boot.kernelPackages.kernel;

  failed = lib.filter (a: !a.assertion) config.assertions;
  checked =
    if failed != [ ]
    then throw "Failed assertions:\n${lib.concatMapStringsSep "\n" (a: "- ${a.message}") failed}"
    else lib.foldl' (acc: w: builtins.trace "warning: ${w}" acc) true config.warnings;

  services = config.services;
  nginx = services.nginx;

  interesting = {
    inherit (config.networking) hostName domain;
    nixosVersion = cfg.nixos.version;
    kernel = { inherit (kernel) name version; };
    systemPackages = map (p: p.name) config.environment.systemPackages;
    extraDependencies = map (p: p.name) cfg.extraDependencies;
    services = {
      nginx = {
        inherit (nginx) enable;
        virtualHosts = lib.mapAttrs
          (_: vhost: {
            locations = lib.mapAttrs
              (_: location: { proxyPass = location.proxyPass or null; })
              (vhost.locations or { });
          })
          nginx.virtualHosts;
      };
      forgejo = { inherit (services.forgejo) enable port; };
      nfs.server = { inherit (services.nfs.server) enable exports; };
      openssh = { inherit (services.openssh) enable; };
    };
    fileSystems = lib.mapAttrs
      (_: fs: { device = fs.device or null; fsType = fs.fsType or "auto"; autoFormat = fs.autoFormat or false; })
      config.fileSystems;
    users = lib.mapAttrs
      (_: user: {
        isNormalUser = user.isNormalUser or false;
        isSystemUser = user.isSystemUser or false;
        extraGroups = user.extraGroups or [ ];
      })
      config.users.users;
  };

  # ferry.test.buildLogLines: a builder that prints that many lines first
  # (only then: other systems keep their derivations' hashes).
  chatty =
    if config.ferry.test.buildLogLines > 0
    then { args = [ ./chatty-top-level.sh ]; topLevelScript = ./top-level.sh; buildLogLines = toString config.ferry.test.buildLogLines; }
    else { };

  toplevel = derivation ({
    name = "nixos-system-${config.networking.hostName}-${cfg.nixos.version}";
    inherit (pkgs) system;
    builder = "/bin/sh";
    args = [ ./top-level.sh ];
    PATH = "/usr/bin:/bin";
    switchScript = ./switch-to-configuration.sh;
    inherit (config.networking) hostName;
    nixosVersion = cfg.nixos.version;
    packages = config.environment.systemPackages;
    extraDependencies = cfg.extraDependencies;
    kernel = kernel;
    # The paths NixOS links as kernel, initrd and kernel-modules.
    kernelPath = "${kernel}/${cfg.boot.loader.kernelFile}";
    initrdPath = "${cfg.build.initialRamdisk}/${cfg.boot.loader.initrdFile}";
    modulesTree = cfg.modulesTree;
    configJSON = builtins.toJSON interesting;
    failBuild = if config.ferry.test.failBuild then "1" else "";
    failActivation = if config.ferry.test.failActivation then "1" else "";
    healthScript = ./ferry-health.sh;
    rebootScript = ./reboot.sh;
    cutSSH = if config.ferry.test.cutSSH then "1" else "";
    activationDelay = toString config.ferry.test.activationDelay;
    unhealthy = if config.ferry.test.unhealthy then "1" else "";
    noReturnAfterReboot = if config.ferry.test.noReturnAfterReboot then "1" else "";
  } // chatty);
in
{
  options = {
    system.build = lib.mkOption { type = lib.types.lazyAttrsOf lib.types.raw; default = { }; };
    system.nixos.release = lib.mkOption { type = lib.types.str; default = "24.05"; };
    system.nixos.versionSuffix = lib.mkOption { type = lib.types.str; default = ".ferrystub"; };
    system.nixos.version = lib.mkOption {
      type = lib.types.str;
      default = cfg.nixos.release + cfg.nixos.versionSuffix;
    };
    system.stateVersion = lib.mkOption { type = lib.types.str; default = cfg.nixos.release; };
    assertions = lib.mkOption { type = lib.types.listOf lib.types.unspecified; default = [ ]; };
    warnings = lib.mkOption { type = lib.types.listOf lib.types.str; default = [ ]; };
  };

  config.system.build.toplevel =
    if config.ferry.test.failEval
    then throw "ferry stub: evaluation of ${config.networking.hostName} failed as requested by ferry.test.failEval"
    else builtins.seq checked toplevel;
}
