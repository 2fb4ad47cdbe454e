"""The peer a user would otherwise pick: python-socketio on aiohttp, for `biometricsctl bench gateway`.

It does what the benchmark asks of every server under test, the idiomatic python-socketio way:

- every client that connects (any auth) enters the room ``bench``;
- ``bench:broadcast {count, bytes}`` from a client emits ``bench {i, pad}`` to the room ``count`` times
  (python-socketio encodes each emit once and sends it to every member);
- any event that asks for an ack (the benchmark sends ``session:heartbeat``) is answered ``{ok: true}``.

Stock settings (default asyncio loop, ping 25 s / 20 s). Writes ``--ready-file`` once it listens; stops on SIGTERM.
"""

import argparse
import asyncio
import os
import signal

import socketio
from aiohttp import web


def build(path: str) -> web.Application:
    sio = socketio.AsyncServer(async_mode="aiohttp", cors_allowed_origins="*", ping_interval=25, ping_timeout=20,
                               max_http_buffer_size=1_000_000, logger=False, engineio_logger=False)
    app = web.Application()
    sio.attach(app, socketio_path=path.strip("/"))

    @sio.event
    async def connect(sid, environ, auth=None):
        await sio.enter_room(sid, "bench")

    @sio.on("bench:broadcast")
    async def broadcast(sid, data):
        pad = "x" * int(data.get("bytes", 0))
        for i in range(int(data["count"])):
            await sio.emit("bench", {"i": i, "pad": pad}, room="bench")

    @sio.on("*")
    async def any_event(event, sid, data=None):
        return {"ok": True}

    return app


async def serve(host: str, port: int, path: str, ready_file: str | None) -> None:
    runner = web.AppRunner(build(path), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=1024)
    await site.start()
    if ready_file:
        with open(ready_file + ".tmp", "w") as f:
            f.write(f"{host}:{port}\n")
        os.replace(ready_file + ".tmp", ready_file)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--path", default="/ws")
    parser.add_argument("--ready-file")
    args = parser.parse_args()
    asyncio.run(serve(args.host, args.port, args.path, args.ready_file))


if __name__ == "__main__":
    main()
