"""Drive lava_dispatcher's MultinodeProtocol (the real LAVA client) against a
coordinator. argv[1] is a JSON config; prints one JSON line with the results."""
import json
import logging
import socket
import sys

from lava_dispatcher.protocols.multinode import MultinodeProtocol

cfg = json.loads(sys.argv[1])
logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
params = {
    "protocols": {
        "lava-multinode": {
            "target_group": cfg["group"],
            "role": cfg["role"],
            "group_size": cfg["group_size"],
            "sub_id": cfg["sub_id"],
        }
    }
}
if cfg.get("expect_role"):
    params["protocols"]["lava-multinode"]["request"] = "lava-start"
    params["protocols"]["lava-multinode"]["expect_role"] = cfg["expect_role"]
proto = MultinodeProtocol(params, cfg["job_id"])
# What set_up() does, without /etc/lava-coordinator/lava-coordinator.conf.
proto.settings = {
    "port": cfg["port"],
    "blocksize": 4096,
    "poll_delay": 0.1,
    "coordinator_hostname": "127.0.0.1",
}
proto.base_message = {
    "port": proto.settings["port"],
    "blocksize": proto.settings["blocksize"],
    "poll_delay": proto.settings["poll_delay"],
    "host": proto.settings["coordinator_hostname"],
    "hostname": socket.gethostname(),
    "client_name": proto.job_id,
    "group_name": cfg["group"],
    "role": cfg["role"],
}
out = {}
group = proto._send({"request": "group_data", "group_size": cfg["group_size"]}, True)
out["group_data"] = json.loads(group)
if proto.delayed_start:
    out["delayed_start"] = json.loads(
        proto._send(
            {"request": "lava_wait_all", "waitrole": cfg["expect_role"], "messageID": "lava_start"},
            True,
        )
    )
results = []
for step in cfg["steps"]:
    if step == "lava_start":
        results.append(json.loads(proto.request_lava_start({})))
    else:
        results.append(proto(step))
out["steps"] = results
proto.finalise_protocol()
print(json.dumps(out))
