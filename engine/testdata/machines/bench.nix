# A small web server whose hello package is rebuilt for every nonce.
{ pkgs, nonce, ... }:
{
  services.openssh.enable = true;
  services.nginx.enable = true;
  environment.systemPackages = [
    pkgs.htop
    (pkgs.hello.overrideAttrs (old: { version = "2.12-n${nonce}"; }))
  ];
}
