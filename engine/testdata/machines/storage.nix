{ pkgs, ... }:
{
  services.nfs.server.enable = true;
  services.nfs.server.exports = "/export/git 127.0.0.0/8(rw)";
}
