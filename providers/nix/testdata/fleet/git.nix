# A Forgejo server whose repositories live on the storage machine.
{ nodes, ... }:
{
  services.forgejo = { enable = true; port = 3001; };
  fileSystems."/srv/git" = {
    device = "${nodes.storage.config.networking.hostName}:/export/git";
    fsType = "nfs";
  };
}
