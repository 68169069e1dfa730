{ index ? 0, ... }: { networking.firewall.allowedTCPPorts = [ 80 ]; }
