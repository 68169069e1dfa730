# Stub NixOS systems for remote's tests, built by real Nix with /bin/sh (no
# nixpkgs). Each system's closure has three paths: the system, its "etc" and a
# "lib" shared by all systems. bin/switch-to-configuration records its action
# in the host's /run/ferry-test-actions and, like NixOS, points
# /run/current-system at the system for switch and test, and installs it as
# the boot entry (/run/ferry-test/boot-system, which the test hosts boot on
# reboot) for switch and boot.
#
# The holding system's switch-to-configuration can be held in progress (see
# below).
#
# The boot* and halting systems also have kernel, initrd and kernel-modules
# links (boot1 and halting: Linux 6.1.0, boot2: 6.6.8) and sw/bin/reboot,
# which asks the test host to reboot (or, for halting, to stop for good)
# through /run/ferry-test/reboot-request, the protocol of remote/testhosts.
let
  build = name: script: extra: derivation ({
    inherit name;
    system = builtins.currentSystem;
    builder = "/bin/sh";
    args = [ "-c" script ];
    PATH = "/usr/bin:/bin";
  } // extra);

  lib = build "ferry-test-lib" "echo 'shared library' > $out" { };

  etc = name: build "${name}-etc" ''
    mkdir -p $out
    echo "$lib" > $out/uses-lib
    echo "${name}" > $out/hostname
  '' { inherit lib; };

  recordAction = ''
    echo "$1 $self" >> /run/ferry-test-actions
    case "$1" in switch|test) ln -sfn "$self" /run/current-system ;; esac
    case "$1" in switch|boot) mkdir -p /run/ferry-test && ln -sfn "$self" /run/ferry-test/boot-system ;; esac
  '';

  system = name: body: build name ''
    mkdir -p $out/bin
    ln -s $etc $out/etc
    { echo '#!/bin/sh'; echo "self=$out"; printf '%s\n' "$body"; } > $out/bin/switch-to-configuration
    chmod +x $out/bin/switch-to-configuration
  '' { etc = etc name; inherit body; };

  kernel = version: build "linux-${version}" ''
    mkdir -p $out/lib/modules/${version}
    echo "kernel ${version}" > $out/bzImage
  '' { };
  modules = version: build "linux-${version}-modules" ''
    mkdir -p $out/lib/modules/${version}
    echo "modules ${version}" > $out/lib/modules/${version}/modules.dep
  '' { };
  initrd = version: build "initrd-linux-${version}" ''
    mkdir -p $out
    echo "initrd ${version}" > $out/initrd
  '' { };

  # A system that boots: boot files and a sw/bin/reboot that writes request
  # ("reboot" or "halt") for the test host, atomically.
  bootable = name: version: request: build name ''
    mkdir -p $out/bin $out/sw/bin
    ln -s $etc $out/etc
    ln -s $kernel/bzImage $out/kernel
    ln -s $initrd/initrd $out/initrd
    ln -s $modules $out/kernel-modules
    { echo '#!/bin/sh'; echo "self=$out"; printf '%s\n' "$body"; } > $out/bin/switch-to-configuration
    { echo '#!/bin/sh'
      echo 'mkdir -p /run/ferry-test'
      echo "echo $request > /run/ferry-test/reboot-request.tmp"
      echo 'mv -f /run/ferry-test/reboot-request.tmp /run/ferry-test/reboot-request'
    } > $out/sw/bin/reboot
    chmod +x $out/bin/switch-to-configuration $out/sw/bin/reboot
  '' {
    etc = etc name;
    body = recordAction;
    kernel = kernel version;
    initrd = initrd version;
    modules = modules version;
    inherit request;
  };
in
{
  good = system "ferry-test-system-good" recordAction;
  alt = system "ferry-test-system-alt" recordAction;
  spare = system "ferry-test-system-spare" recordAction;
  broken = system "ferry-test-system-broken" (recordAction + ''
    for i in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25; do
      echo "starting unit-$i.service"
    done
    echo "error: unit broken.service failed to start" >&2
    exit 4
  '');
  # Its switch-to-configuration waits while /run/ferry-test/hold exists,
  # after creating /run/ferry-test/holding: an activation (or a rollback to
  # it) that a test holds in progress.
  holding = system "ferry-test-system-holding" (''
    if [ -e /run/ferry-test/hold ]; then
      : > /run/ferry-test/holding
      while [ -e /run/ferry-test/hold ]; do sleep 0.02; done
      rm -f /run/ferry-test/holding
    fi
  '' + recordAction);
  boot1 = bootable "ferry-test-system-boot1" "6.1.0" "reboot";
  boot2 = bootable "ferry-test-system-boot2" "6.6.8" "reboot";
  halting = bootable "ferry-test-system-halting" "6.1.0" "halt";
}
