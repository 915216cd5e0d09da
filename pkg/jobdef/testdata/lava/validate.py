#!/usr/bin/python3
"""Batch driver for golava's compatibility tests: validates job definitions
with the real lava-common (PYTHONPATH must hold its dist-packages).

Reads JSON lines on stdin and answers one JSON line per request:
  {"yaml": "...", "strict": false}
      -> {"valid": true} or {"valid": false, "path": "...", "error": "..."}
  {"bench": ["yaml", ...], "rounds": 3}
      -> {"count": N, "seconds": S} (yaml load + validate of every document,
         rounds times, timed inside Python so start-up is not counted)
"""
import json
import sys
import time

import voluptuous
import yaml

from lava_common import schemas
from lava_common.compat import yaml_safe_load


def dotted(path):
    """voluptuous' path list as golava writes paths: actions[2].boot.method."""
    out = ""
    for p in path:
        if isinstance(p, int):
            out += "[%d]" % p
        else:
            out += ("." if out else "") + str(p)
    return out


def verdict(text, strict):
    try:
        data = yaml_safe_load(text)
    except yaml.YAMLError as exc:
        return {"valid": False, "path": "", "error": "yaml: %s" % exc}
    try:
        schemas.validate(data, strict=strict, extra_context_variables=[])
    except voluptuous.Invalid as exc:
        return {"valid": False, "path": dotted(exc.path), "error": exc.msg}
    except Exception as exc:  # LAVA answers these with a server error
        return {"valid": False, "path": "", "error": "exception %s: %s" % (type(exc).__name__, exc)}
    return {"valid": True}


def bench(docs, rounds):
    start = time.perf_counter()
    for _ in range(rounds):
        for text in docs:
            verdict(text, False)
    return {"count": rounds * len(docs), "seconds": time.perf_counter() - start}


def main():
    for line in sys.stdin:
        req = json.loads(line)
        if "bench" in req:
            out = bench(req["bench"], int(req.get("rounds", 1)))
        else:
            out = verdict(req["yaml"], bool(req.get("strict", False)))
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
