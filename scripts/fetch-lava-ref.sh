#!/bin/sh
# Downloads the real LAVA 2023.01 packages from Debian and unpacks them into a
# git-ignored cache, for the compatibility suites. Never commit what it writes.
# Usage: scripts/fetch-lava-ref.sh DIR
set -eu
dest=${1:?usage: $0 DIR}
stamp="$dest/.complete"
# lava-dispatcher-host joined the list later: a cache without it is refreshed.
[ -f "$stamp" ] && [ -d "$dest/usr/lib/python3/dist-packages/lava_dispatcher_host" ] && exit 0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cd "$tmp"
chmod 755 "$tmp"
apt-get -o DPkg::Lock::Timeout=600 update -qq
apt-get -o DPkg::Lock::Timeout=600 download -qq \
	lava-server lava-server-doc lava-common lava-dispatcher lava-dispatcher-host lava-coordinator lavacli 2>&1 | grep -v '^W: Download is performed unsandboxed' || true
mkdir -p "$dest"
for f in ./*.deb; do dpkg -x "$f" "$dest"; done
touch "$stamp"
