"""Receive golava events with the client code lavacli uses: aiohttp's
ws_connect for /ws/ and a pyzmq SUB socket, printed by lavacli's own
print_event. argv: ws_url zmq_url count. Events whose data lacks the marker
are warm-up (ZMQ subscriptions need a moment to reach the publisher)."""
import asyncio
import json
import sys
import threading
import types

import aiohttp
import zmq

from lavacli.commands.events import print_event

MARKER = "golava-test"
ws_url, zmq_url, want = sys.argv[1], sys.argv[2], int(sys.argv[3])
options = types.SimpleNamespace(filter=None)
config = {"version": (2023, 1)}
lock = threading.Lock()


def emit(source, topic, dt, username, data):
    with lock:
        print(source, end=" ")
        print_event(options, config, topic, dt, username, data)
        sys.stdout.flush()


def zmq_listen():
    sock = zmq.Context.instance().socket(zmq.SUB)
    sock.setsockopt(zmq.SUBSCRIBE, b"")
    sock.connect(zmq_url)
    got = 0
    while got < want:
        (topic, _, dt, username, data) = (m.decode("utf-8") for m in sock.recv_multipart())
        if MARKER not in data:
            with lock:
                print("ZMQ-WARM", flush=True)
            continue
        got += 1
        emit("ZMQ", topic, dt, username, data)


async def ws_listen():
    async with aiohttp.ClientSession() as session:
        async with session.ws_connect(ws_url, heartbeat=30) as ws:
            with lock:
                print("WS-CONNECTED", flush=True)
            got = 0
            async for msg in ws:
                if msg.type != aiohttp.WSMsgType.TEXT:
                    continue
                (topic, _, dt, username, data) = json.loads(msg.data)
                if MARKER not in data:
                    continue
                got += 1
                emit("WS", topic, dt, username, data)
                if got == want:
                    return


t = threading.Thread(target=zmq_listen, daemon=True)
t.start()
asyncio.run(ws_listen())
t.join()
