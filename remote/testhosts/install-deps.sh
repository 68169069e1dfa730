#!/bin/sh
# Installs what ferry's test hosts need (Nix, OpenSSH, unshare, mount, ip) on
# Debian, only when something is missing. Idempotent; runs apt-get update at
# most once, and only when it has to install. Run as root.
set -eu

# package:command-or-file it provides
wanted="
nix-bin:/usr/bin/nix-store
nix-setup-systemd:/etc/nix/nix.conf
openssh-server:/usr/sbin/sshd
openssh-client:/usr/bin/ssh
util-linux:/usr/bin/unshare
mount:/usr/bin/mount
iproute2:/usr/sbin/ip
"

missing=""
for entry in $wanted; do
	pkg=${entry%%:*}
	file=${entry#*:}
	if [ ! -e "$file" ] || ! dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed'; then
		missing="$missing $pkg"
	fi
done

if [ -z "$missing" ]; then
	echo "test host dependencies already installed"
	exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
	echo "missing:$missing; run this script as root (or: apt-get install -y$missing)" >&2
	exit 1
fi

echo "installing:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing
