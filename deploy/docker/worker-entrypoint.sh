#!/bin/sh
# The compose worker: starts its dut-sim boards, then lava-worker in front.
set -eu
BOARDS=${BOARDS:-2}
i=1
while [ "$i" -le "$BOARDS" ]; do
	name=$(printf 'dut-sim-%02d' "$i")
	mkdir -p "/var/lib/lava/boards/$name"
	lava-dut-sim serve --dir "/var/lib/lava/boards/$name" --name "$name" &
	i=$((i + 1))
done
exec lava-worker "$@"
