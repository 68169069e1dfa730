{ ... }: { imports = [ ./users.nix ]; services.forgejo.enable = true; }
