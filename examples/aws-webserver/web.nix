# A web server: nginx answers on port 80 with a page naming the machine
# and its region. aws.ec2 adds NixOS's EC2 image module to the machine
# (root file system, the SSH host key from the user data, ...), as the
# NixOS images' own configuration.nix does: nothing to import here.
{ name, region, ... }:
{
  services.nginx.enable = true;
  services.nginx.virtualHosts.${name} = {
    default = true;
    locations."/".return = ''200 "${name} in ${region}\n"'';
    extraConfig = "default_type text/plain;";
  };
  networking.firewall.allowedTCPPorts = [ 80 ];
  system.stateVersion = "25.11";
}
