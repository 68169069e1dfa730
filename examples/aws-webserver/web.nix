# A web server: nginx answers on port 80 with a page naming the machine
# and its region. The EC2 image module makes the system boot on EC2 (root
# file system, the SSH host key from the user data, ...), as the NixOS
# images' own configuration.nix does.
{ modulesPath, name, region, ... }:
{
  imports = [ "${modulesPath}/virtualisation/amazon-image.nix" ];

  services.nginx.enable = true;
  services.nginx.virtualHosts.${name} = {
    default = true;
    locations."/".return = ''200 "${name} in ${region}\n"'';
    extraConfig = "default_type text/plain;";
  };
  networking.firewall.allowedTCPPorts = [ 80 ];
  system.stateVersion = "25.11";
}
