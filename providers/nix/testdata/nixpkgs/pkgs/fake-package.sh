# Builder of the stub's fake packages: $pname, $version, $bins, $deps, $src
# and $kernel come from the derivation (see fake.nix).
set -eu
if [ -n "$fail" ]; then
  echo "compiling $pname $version"
  echo "ferry stub: $pname-$version always fails to build" >&2
  exit 2
fi
mkdir -p "$out/bin" "$out/nix-support"
for b in $bins; do
  printf '#!/bin/sh\necho "%s (%s %s, ferry stub package)"\n' "$b" "$pname" "$version" > "$out/bin/$b"
  chmod +x "$out/bin/$b"
done
# Runtime references to the dependencies, as real packages have.
: > "$out/nix-support/propagated-build-inputs"
for d in $deps; do
  echo "$d" >> "$out/nix-support/propagated-build-inputs"
done
if [ -n "$src" ]; then
  # Name the source without its hash: sources are build-time only.
  echo "built from ${src#*-}" > "$out/nix-support/source"
fi
if [ -n "$kernel" ]; then
  echo "fake Linux kernel image, version $version" > "$out/bzImage"
  mkdir -p "$out/lib/modules/$version"
fi
