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
fdisk:/usr/sbin/sfdisk
mtools:/usr/bin/mcopy
dosfstools:/usr/sbin/mkfs.vfat
"

# A second apt-get or dpkg running on the machine (unattended-upgrades, an
# install in another terminal) holds the package manager's locks: wait for
# it, up to FERRY_APT_LOCK_TIMEOUT seconds (default 600), instead of
# failing. apt >= 1.9.11 waits by itself for the dpkg lock of an install
# (DPkg::Lock::Timeout); `apt-get update` takes the lists lock, which that
# option does not cover (measured with apt 2.6.1), and older apt waits for
# nothing, so apt_get also retries while apt-get says a lock is held.
lock_timeout=${FERRY_APT_LOCK_TIMEOUT:-600}
lock_opt=""
apt_version=$(apt-get --version 2>/dev/null | sed -n '1s/^apt \([0-9][^ ]*\).*/\1/p')
if [ -n "$apt_version" ] && dpkg --compare-versions "$apt_version" ge 1.9.11; then
	lock_opt="-o DPkg::Lock::Timeout=$lock_timeout"
fi

# apt_get runs apt-get with its arguments, waiting while another package
# manager holds a lock.
apt_get() {
	deadline=$(($(date +%s) + lock_timeout))
	err=$(mktemp)
	waited=""
	while :; do
		rc=0
		# shellcheck disable=SC2086 # lock_opt is two words or none
		apt-get $lock_opt "$@" 2>"$err" || rc=$?
		if [ "$rc" -eq 0 ] || ! grep -q 'Could not get lock\|Unable to acquire the dpkg frontend lock\|Unable to lock' "$err"; then
			cat "$err" >&2
			rm -f "$err"
			return "$rc"
		fi
		if [ -z "$waited" ]; then
			echo "waiting for another package manager to finish ($(grep -m1 'Could not get lock\|Unable to' "$err" | sed 's/^E: //')); giving up after ${lock_timeout}s" >&2
			waited=1
		fi
		if [ "$(date +%s)" -ge "$deadline" ]; then
			cat "$err" >&2
			rm -f "$err"
			echo "gave up after ${lock_timeout}s waiting for another package manager to finish (apt-get $*); run this again when it is done, or set FERRY_APT_LOCK_TIMEOUT=SECONDS" >&2
			return "$rc"
		fi
		sleep 2
	done
}

apt_updated=""
apt_install() {
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing:$*; run this script as root (or: apt-get install -y $*)" >&2
		exit 1
	fi
	echo "installing: $*"
	export DEBIAN_FRONTEND=noninteractive
	if [ -z "$apt_updated" ]; then
		apt_get update -qq
		apt_updated=1
	fi
	apt_get install -y -qq --no-install-recommends "$@"
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
