{ gitHost, ... }: { services.nginx.virtualHosts.git.locations."/".proxyPass = "http://${gitHost}:3000"; }
