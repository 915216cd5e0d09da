#!/bin/sh
# Installs the Debian packages golava needs, only those missing, quietly when
# nothing is. Usage: scripts/install-deps.sh run|test
set -eu

run_pkgs="postgresql-15 postgresql-client-15 util-linux procps busybox-static qemu-system-x86 git xz-utils zstd"
test_pkgs="$run_pkgs socat python3 python3-yaml python3-jinja2 python3-requests python3-zmq python3-voluptuous python3-setproctitle python3-pexpect python3-configobj python3-tz python3-dateutil python3-magic python3-aiohttp lavacli chromium python3-netifaces python3-pyudev docker-compose systemd qemu-system-x86 qemu-system-arm linux-image-amd64 cpio git u-boot-qemu tftpd-hpa xz-utils zstd"

case "${1:-run}" in
run) want=$run_pkgs ;;
test) want=$test_pkgs ;;
*) echo "usage: $0 run|test" >&2; exit 2 ;;
esac

missing=""
for p in $want; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "missing Debian packages:$missing (run this script as root to install them)" >&2
	exit 1
fi
echo "installing Debian packages:$missing"
export DEBIAN_FRONTEND=noninteractive
apt-get -o DPkg::Lock::Timeout=600 update -qq
# shellcheck disable=SC2086
apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends $missing >/dev/null
