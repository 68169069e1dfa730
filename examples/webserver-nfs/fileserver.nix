{ ... }:
{
  services.nfs.server.enable = true;
  services.nfs.server.exports = ''
    /srv/www 10.0.1.0/24(ro,no_subtree_check)
  '';
  networking.firewall.allowedTCPPorts = [ 2049 ];
  system.stateVersion = "24.05";
}
