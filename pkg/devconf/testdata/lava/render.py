#!/usr/bin/python3
"""Batch driver for golava's device compatibility test: renders device
dictionaries with python3-jinja2 set up as lava-server 2023.01 sets up its
device-type environment (sandboxed, trim_blocks, no autoescape, the default
Undefined that renders empty).

Usage: render.py TEMPLATES_DIR. Reads JSON lines on stdin:
  {"dict": "{% extends 'x.jinja2' %}...", "context": {...}}
and answers one JSON line each: {"ok": true, "text": "..."} or
{"ok": false, "error": "..."}.
"""
import json
import sys

import jinja2
from jinja2.sandbox import SandboxedEnvironment


def main():
    env = SandboxedEnvironment(
        loader=jinja2.FileSystemLoader([sys.argv[1]]),
        autoescape=False,
        trim_blocks=True,
        cache_size=-1,
    )
    for line in sys.stdin:
        req = json.loads(line)
        try:
            text = env.from_string(req["dict"]).render(**(req.get("context") or {}))
            out = {"ok": True, "text": text}
        except Exception as exc:  # lava-server reports these as a broken template
            out = {"ok": False, "error": "%s: %s" % (type(exc).__name__, exc)}
        sys.stdout.write(json.dumps(out) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
