#!/bin/sh
# switch-to-configuration of ferry's stub NixOS system @out@.
# It appends "<action> <this system>" to /run/ferry-test/activations (for
# every action, including a failing or dry one), then: switch and test point
# /run/current-system at this system, boot points /run/ferry-test/boot-system
# at it, dry-activate changes nothing. switch and test also cut or heal SSH:
# with ferry.test.cutSSH they move /root/.ssh/authorized_keys to
# authorized_keys.ferry-cut (new logins fail, open connections live on);
# without it they move a .ferry-cut copy back. It never writes /etc: test
# hosts share /etc with the machine.
set -eu
PATH=/usr/local/bin:/usr/bin:/bin:$PATH
system=@out@
action=${1:-}
case "$action" in
  switch|boot|test|dry-activate) ;;
  *) echo "usage: $0 [switch|boot|test|dry-activate]" >&2; exit 1 ;;
esac
mkdir -p /run/ferry-test
echo "$action $system" >> /run/ferry-test/activations
if [ "@activationDelay@" != 0 ] && { [ "$action" = switch ] || [ "$action" = test ]; }; then
  sleep "@activationDelay@"
fi
if [ "@failActivation@" = 1 ]; then
  echo "ferry stub: activation of @hostName@ failed as requested by ferry.test.failActivation" >&2
  exit 1
fi
point() {
  ln -sfn "$system" "$1.ferry-tmp"
  mv -Tf "$1.ferry-tmp" "$1"
}
keys=/root/.ssh/authorized_keys
ssh_keys() {
  if [ "@cutSSH@" = 1 ]; then
    if [ -e "$keys" ]; then
      mv -f "$keys" "$keys.ferry-cut"
      echo "ferry stub: cut SSH logins to @hostName@ as requested by ferry.test.cutSSH" >&2
    fi
  elif [ -e "$keys.ferry-cut" ]; then
    mv -f "$keys.ferry-cut" "$keys"
  fi
}
case "$action" in
  switch) point /run/current-system; point /run/ferry-test/boot-system; ssh_keys ;;
  test) point /run/current-system; ssh_keys ;;
  boot) point /run/ferry-test/boot-system ;;
  dry-activate) echo "would activate $system" ;;
esac
echo "$action of @hostName@ done"
