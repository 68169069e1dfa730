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
# As NixOS: the kernel image, the initrd and the kernel modules tree.
if [ ! -f "$kernelPath" ]; then
  echo "The bootloader cannot find the proper kernel image." >&2
  echo "(Expecting $kernelPath)" >&2
  exit 1
fi
ln -s "$kernelPath" "$out/kernel"
ln -s "$initrdPath" "$out/initrd"
ln -s "$modulesTree" "$out/kernel-modules"
echo "$nixosVersion" > "$out/nixos-version"
printf '%s\n' "$configJSON" > "$out/etc/ferry-config.json"
subst() {
  sed -e "s|@out@|$out|g" -e "s|@hostName@|$hostName|g" -e "s|@failActivation@|$failActivation|g" \
    -e "s|@cutSSH@|$cutSSH|g" -e "s|@activationDelay@|$activationDelay|g" -e "s|@unhealthy@|$unhealthy|g" -e "s|@noReturnAfterReboot@|$noReturnAfterReboot|g" \
    "$1" > "$2"
  chmod +x "$2"
}
subst "$switchScript" "$out/bin/switch-to-configuration"
# The stub's own programs, on every system (see README.md), replacing any
# package's program of the same name.
rm -f "$out/sw/bin/ferry-health" "$out/sw/bin/reboot"
subst "$healthScript" "$out/sw/bin/ferry-health"
subst "$rebootScript" "$out/sw/bin/reboot"
echo "built the system of $hostName"
