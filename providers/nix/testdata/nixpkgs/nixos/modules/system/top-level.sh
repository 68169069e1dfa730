# Builder of the stub's system derivation (see top-level.nix).
set -eu
if [ -n "$failBuild" ]; then
  echo "building the system of $hostName"
  echo "ferry stub: build of $hostName failed as requested by ferry.test.failBuild" >&2
  exit 1
fi
mkdir -p "$out/bin" "$out/sw/bin" "$out/etc"
for p in $packages; do
  for f in "$p"/bin/*; do
    if [ -e "$f" ]; then ln -sfn "$f" "$out/sw/bin/"; fi
  done
done
# Services' packages are in the closure without being in sw/.
: > "$out/extra-dependencies"
for p in $extraDependencies; do
  echo "$p" >> "$out/extra-dependencies"
done
ln -s "$kernel/bzImage" "$out/kernel"
echo "$nixosVersion" > "$out/nixos-version"
printf '%s\n' "$configJSON" > "$out/etc/ferry-config.json"
sed -e "s|@out@|$out|g" -e "s|@hostName@|$hostName|g" -e "s|@failActivation@|$failActivation|g" \
  "$switchScript" > "$out/bin/switch-to-configuration"
chmod +x "$out/bin/switch-to-configuration"
echo "built the system of $hostName"
