# Stands for a nixpkgs checkout in lang's tests; never evaluated.
{ ... }: { }
