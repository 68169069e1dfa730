# Builder of the stub's aggregateModules (see all-packages.nix): links every
# lib/modules/<version> of $modules into $out/lib/modules.
set -eu
mkdir -p "$out/lib/modules"
for m in $modules; do
  for d in "$m"/lib/modules/*; do
    if [ -e "$d" ]; then ln -sfn "$d" "$out/lib/modules/"; fi
  done
done
