#!/bin/sh
# Installs what ferry's tests need, only when something is missing:
#   - the test hosts' Debian packages (Nix, OpenSSH, unshare, mount, ip);
#     runs apt-get update at most once, and only when it has to install;
#     needs root;
#   - moto (the AWS emulator the providers/aws tests run against), pinned,
#     in a Python venv of its own under the user cache folder:
#     ${XDG_CACHE_HOME:-$HOME/.cache}/ferry/moto-$MOTO_VERSION, or
#     $FERRY_MOTO_VENV when set. providers/aws/awstest finds it there.
# Idempotent: a second run installs nothing.
set -eu

# --- Debian packages for the test hosts ------------------------------------

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

apt_updated=""
apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing:$*; run this script as root (or: apt-get install -y $*)" >&2
		exit 1
	fi
	echo "installing: $*"
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$apt_updated" ]; then
		apt-get update -qq
		apt_updated=1
	fi
	apt-get install -y -qq --no-install-recommends "$@"
}

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
else
	# shellcheck disable=SC2086 # word splitting of the package list is intended
	apt_install $missing
fi

# --- moto, the AWS emulator ------------------------------------------------

# Keep in step with providers/aws/awstest (MotoVersion, VenvDir).
MOTO_VERSION=5.2.5
moto_venv=${FERRY_MOTO_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/ferry/moto-$MOTO_VERSION}

if [ -x "$moto_venv/bin/moto_server" ] && [ -f "$moto_venv/.ferry-installed" ]; then
	echo "moto $MOTO_VERSION already installed in $moto_venv"
	exit 0
fi

echo "installing moto[server]==$MOTO_VERSION into $moto_venv"
rm -rf "$moto_venv"
mkdir -p "$(dirname "$moto_venv")"
if ! python3 -m venv "$moto_venv" 2>/dev/null; then
	# Debian's own python3 needs python3-venv for ensurepip.
	rm -rf "$moto_venv"
	apt_install python3-venv
	python3 -m venv "$moto_venv"
fi
"$moto_venv/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
# Written last: a half-finished install (killed pip) is redone next time.
echo "$MOTO_VERSION" >"$moto_venv/.ferry-installed"
echo "moto $MOTO_VERSION installed in $moto_venv"
