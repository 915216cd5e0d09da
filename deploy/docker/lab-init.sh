#!/bin/sh
# One-shot set-up of the compose lab: migrate, an admin with a token, the
# worker and its dut-sim boards. Idempotent: a second run changes nothing.
# Writes the worker token to $SHARED/worker1.token for the worker service.
set -eu
SHARED=${SHARED:-/var/lib/lava/shared}
BOARDS=${BOARDS:-2}
mkdir -p "$SHARED"
lava-server migrate
if lava-server users add admin --superuser 2>/dev/null; then
	lava-server tokens add --user admin --description "compose admin" | tail -n 1 | awk '{print $NF}' > "$SHARED/admin.token"
	chmod 600 "$SHARED/admin.token"
fi
if [ ! -s "$SHARED/worker1.token" ]; then
	lava-server workers add worker1 --description "compose worker" | tail -n 1 | awk '{print $NF}' > "$SHARED/worker1.token"
	chmod 644 "$SHARED/worker1.token"
fi
lava-server device-types add dut-sim 2>/dev/null || true
i=1
while [ "$i" -le "$BOARDS" ]; do
	name=$(printf 'dut-sim-%02d' "$i")
	dict="$SHARED/$name.jinja2"
	cat > "$dict" <<DICT
{% extends 'dut-sim.jinja2' %}
{% set dut_sim_dir = '/var/lib/lava/boards/$name' %}
{% set dut_sim_bin = '/usr/bin/lava-dut-sim' %}
DICT
	lava-server devices add "$name" --device-type dut-sim --worker worker1 --dict "$dict" 2>/dev/null || true
	i=$((i + 1))
done
echo "lab ready: admin token in $SHARED/admin.token"
