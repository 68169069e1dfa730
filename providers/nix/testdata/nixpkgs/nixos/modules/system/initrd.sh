# Builder of the stub's initrd (see kernel.nix): $out/$initrdFile, a text
# naming the kernel, the initrd's kernel modules and boot.initrd.ferryStubContent.
# The kernel is a build input, checked, not referenced from the output.
set -eu
if [ ! -d "$kernel/lib/modules/$kernelVersion" ]; then
  echo "ferry stub: $kernel has no lib/modules/$kernelVersion" >&2
  exit 1
fi
mkdir -p "$out"
{
  echo "fake initrd for Linux $kernelVersion"
  echo "kernel modules: $kernelModules"
  printf '%s\n' "$content"
} > "$out/$initrdFile"
