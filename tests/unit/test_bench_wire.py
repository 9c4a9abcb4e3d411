"""bench/wire.py counts what it claims: the message requests to one loopback port, once each.

`bench/crash.py --broadcast` holds the shared send budget to this count, so it is checked here
against a real aiohttp server on loopback: requests for other methods, and traffic to other
ports, are not counted, and each request is counted once although loopback shows every packet
leaving and arriving. Reading the interface needs root (CAP_NET_RAW).
"""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web

BENCH = Path(__file__).resolve().parents[2] / "bench" / "wire.py"


def load_wire():
    spec = importlib.util.spec_from_file_location("bench_wire", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


wire = load_wire()
needs_raw_sockets = pytest.mark.skipif(
    not wire.WireStamps.available(),
    reason="reading the loopback interface needs root (CAP_NET_RAW); bench/wire.py not checked",
)


async def serve() -> tuple[web.AppRunner, int]:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        return web.json_response({"ok": True, "result": True})

    app = web.Application()
    app.router.add_post("/bot{token}/{method}", answer)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    return runner, runner.addresses[0][1]


@needs_raw_sockets
async def test_only_the_message_requests_to_the_port_are_counted_once_each():
    watched, watched_port = await serve()
    other, other_port = await serve()
    try:
        with wire.WireStamps(watched_port, (b"/sendMessage", b"/sendLocation")) as stamps:
            async with aiohttp.ClientSession() as http:
                for index, (port, method) in enumerate(
                    [(watched_port, "sendMessage")] * 6
                    + [(watched_port, "sendLocation")] * 2
                    + [(watched_port, "getMe")] * 5
                    + [(other_port, "sendMessage")] * 5
                ):
                    body = {"chat_id": index, "text": "净土 " * 2000}  # several segments each
                    url = f"http://127.0.0.1:{port}/bot1:token/{method}"
                    async with http.post(url, json=body) as response:
                        assert response.status == 200
            # The reading thread may trail the last answer by a moment.
            for _ in range(200):
                if len(stamps.stamps) >= 8:
                    break
                await asyncio.sleep(0.01)
        assert len(stamps.stamps) == 8
        assert stamps.busiest(window=3600.0) == 8
        assert stamps.stamps == sorted(stamps.stamps)
    finally:
        await watched.cleanup()
        await other.cleanup()
