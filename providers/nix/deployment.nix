# ferry's `deployment` options, added to every machine (see ferryModules in
# expression.go): the options NixOps and Colmena modules set, so that such
# modules evaluate unchanged. ferry reads them back after evaluation
# (deploymentReport) and uses them where the Starlark configuration is
# silent. Defaults are null where ferry must tell "set in Nix" from "left
# out"; readers use `or` for submodule fields, because the stub nixpkgs of
# the tests has no submodule defaults.
{ config, lib, ... }:
let
  inherit (lib) mkOption types;
  key = types.submodule {
    options = {
      text = mkOption { type = types.nullOr types.str; default = null; description = "The key's content (stays out of the Nix store)."; };
      keyFile = mkOption { type = types.nullOr types.path; default = null; description = "A file on the deployer holding the key."; };
      keyCommand = mkOption { type = types.nullOr (types.listOf types.str); default = null; description = "A command printing the key (Colmena)."; };
      destDir = mkOption { type = types.str; default = "/run/keys"; description = "Where the key is uploaded."; };
      user = mkOption { type = types.str; default = "root"; description = "The key file's owner."; };
      group = mkOption { type = types.str; default = "root"; description = "The key file's group."; };
      permissions = mkOption { type = types.str; default = "0600"; description = "The key file's mode."; };
      uploadAt = mkOption { type = types.str; default = "pre-activation"; description = "When the key is uploaded (Colmena)."; };
    };
  };
in
{
  options.deployment = {
    targetEnv = mkOption { type = types.str; default = "none"; description = "The NixOps backend; ferry supports \"none\" (an existing host)."; };
    targetHost = mkOption { type = types.nullOr types.str; default = null; description = "The host to deploy to (default: the machine's name)."; };
    targetPort = mkOption { type = types.nullOr types.int; default = null; description = "The SSH port (default 22)."; };
    targetUser = mkOption { type = types.nullOr types.str; default = null; description = "The SSH user (default root)."; };
    tags = mkOption { type = types.listOf types.str; default = [ ]; description = "Tags selecting the machine (--on @tag)."; };
    hasFastConnection = mkOption { type = types.bool; default = false; description = "NixOps: copy everything from the deployer (true) or let the host substitute (false). ferry pushes what the host lacks from the deployer either way today; the plan records the value for transfer strategies."; };
    # NixOps's default is true; ferry's is false, so that a plan of an
    # unchanged fleet is empty. Set true, the machine is activated on
    # every deploy, as NixOps did.
    alwaysActivate = mkOption { type = types.bool; default = false; description = "Activate the machine on every deploy, even when its system is unchanged (NixOps; ferry's default is false)."; };
    buildOnTarget = mkOption { type = types.bool; default = false; description = "Build the system on the host (Colmena)."; };
    allowLocalDeployment = mkOption { type = types.bool; default = false; description = "Accepted for Colmena."; };
    replaceUnknownProfiles = mkOption { type = types.bool; default = true; description = "Accepted for Colmena."; };
    privilegeEscalationCommand = mkOption { type = types.listOf types.str; default = [ "sudo" "-H" "--" ]; description = "Accepted for Colmena."; };
    # The settings of NixOps backends, accepted so that a network written
    # for one evaluates far enough to say which backend it wants.
  } // lib.genAttrs [ "ec2" "gce" "azure" "virtualbox" "libvirtd" "container" "hetzner" "hetznerCloud" "digitalOcean" "packet" "vultr" "route53" ]
    (backend: mkOption { type = types.attrsOf types.anything; default = { }; description = "Accepted for NixOps (backend ${backend}); not supported by ferry."; })
  // {
    keys = mkOption { type = types.attrsOf key; default = { }; description = "Keys uploaded to the host, never stored in the Nix store."; };
  };

  # As NixOps: a <name>-key.service per key, active while the key exists,
  # for services to depend on (after and wants).
  config.systemd.services = lib.mapAttrs'
    (name: k:
      let path = "${k.destDir or "/run/keys"}/${name}"; in
      lib.nameValuePair "${name}-key" {
        description = "Key ${name}";
        wantedBy = [ "keys.target" ];
        serviceConfig = { Type = "oneshot"; RemainAfterExit = true; TimeoutStartSec = "infinity"; };
        script = ''
          while ! [ -e ${path} ]; do sleep 0.1; done
        '';
      })
    config.deployment.keys;
}
