{ ... }:
{
  services.nfs.server.enable = true;
  services.nfs.server.exports = "/export/git 10.0.0.0/24(rw)";
}
