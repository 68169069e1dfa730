{ nfsHost, nodes, ... }:
{
  fileSystems."/var/www" = {
    device = "${nfsHost}:/srv/www";
    fsType = "nfs";
  };
  services.nginx.enable = true;
  # Only deploy against a file server that really exports something.
  assertions = [{
    assertion = nodes.fileserver.config.services.nfs.server.enable;
    message = "webserver needs the fileserver's NFS export";
  }];
  system.stateVersion = "24.05";
}
