"""The fake Bot API in a process of its own, for benchmarks that measure send rates.

``python -m tests.fakes.telegram_api_server --global-per-second 100`` serves a `FakeBotApi` on
a free loopback port and, beside it, a small control API for the bench that started it. Once
both listen it prints one JSON line (token, base URLs, control URL) and runs until SIGTERM.

Why a process: in the bench's own process the fake shares the event loop with the residents'
simulation; on a loaded machine that loop stalls for hundreds of milliseconds and the fake
then stamps a burst of requests at once, overstating the busiest second the senders caused.
The test suite keeps using `FakeBotApi` in-process (tests/e2e import it directly).

Control API (all JSON), each a thin call of the `FakeBotApi` method of the same name:

* ``POST /user_text`` {user_id, text, language_code} -> the queued update;
* ``GET /sent_count?chat=`` -> {count}: messages sent to the chat;
* ``GET /wait_for_messages?chat=&count=&timeout=`` -> {count}, 408 when not within timeout;
* ``GET /sent_counts?first=&count=`` -> [messages sent to each chat first … first+count-1];
* ``GET /stats`` -> {stats, busiest_second}.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any, Self

import aiohttp
from aiohttp import web

from tests.fakes.telegram_api import FakeBotApi

# Where `python -m tests.fakes.telegram_api_server` resolves, whatever the caller's directory.
ROOT = Path(__file__).resolve().parents[2]


def control_app(api: FakeBotApi) -> web.Application:
    async def user_text(request: web.Request) -> web.Response:
        body = await request.json()
        update = api.user_text(
            int(body["user_id"]), str(body["text"]), language_code=str(body["language_code"])
        )
        return web.json_response(update)

    async def sent_count(request: web.Request) -> web.Response:
        return web.json_response({"count": len(api.sent_to(int(request.query["chat"])))})

    async def wait_for_messages(request: web.Request) -> web.Response:
        chat, count = int(request.query["chat"]), int(request.query["count"])
        try:
            sent = await api.wait_for_messages(chat, count, timeout=float(request.query["timeout"]))
        except AssertionError:
            return web.json_response({"count": len(api.sent_to(chat))}, status=408)
        return web.json_response({"count": len(sent)})

    async def sent_counts(request: web.Request) -> web.Response:
        first, count = int(request.query["first"]), int(request.query["count"])
        return web.json_response([len(api.sent_to(chat)) for chat in range(first, first + count)])

    async def stats(request: web.Request) -> web.Response:
        return web.json_response({"stats": dict(api.stats), "busiest_second": api.busiest_second()})

    app = web.Application()
    app.router.add_post("/user_text", user_text)
    app.router.add_get("/sent_count", sent_count)
    app.router.add_get("/wait_for_messages", wait_for_messages)
    app.router.add_get("/sent_counts", sent_counts)
    app.router.add_get("/stats", stats)
    return app


async def serve(global_per_second: float | None) -> None:
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopping.set)
    async with FakeBotApi() as api:
        api.set_rate_limits(global_per_second=global_per_second)
        runner = web.AppRunner(control_app(api), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        control_port = runner.addresses[0][1]
        address = {
            "token": api.token,
            "base_url": api.base_url,
            "base_file_url": api.base_file_url,
            "control_url": f"http://127.0.0.1:{control_port}",
        }
        print(json.dumps(address), flush=True)
        try:
            await stopping.wait()
        finally:
            await runner.cleanup()


class FakeBotApiProcess:
    """The bench's side: starts this module as a subprocess and calls its control API.

    Offers what a bench reads from an in-process `FakeBotApi` (token, base URLs, messages
    sent, stats, busiest second), as coroutines since each is a request."""

    def __init__(self, *, global_per_second: float | None = None) -> None:
        self.global_per_second = global_per_second
        self.token = self.base_url = self.base_file_url = self.control_url = ""
        self._process: asyncio.subprocess.Process | None = None
        self._http: aiohttp.ClientSession | None = None

    async def __aenter__(self) -> Self:
        args = [sys.executable, "-m", "tests.fakes.telegram_api_server"]
        if self.global_per_second is not None:
            args += ["--global-per-second", f"{self.global_per_second:g}"]
        self._process = await asyncio.create_subprocess_exec(
            *args, stdout=asyncio.subprocess.PIPE, cwd=ROOT
        )
        assert self._process.stdout is not None
        line = await self._process.stdout.readline()
        if not line:
            raise RuntimeError("the fake Bot API process exited before it listened")
        address = json.loads(line)
        self.token, self.base_url = address["token"], address["base_url"]
        self.base_file_url, self.control_url = address["base_file_url"], address["control_url"]
        self._http = aiohttp.ClientSession(self.control_url)
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        if self._http is not None:
            await self._http.close()
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()

    async def _get(self, path: str, **query: Any) -> Any:
        assert self._http is not None
        params = {key: str(value) for key, value in query.items()}
        async with self._http.get(path, params=params) as response:
            return response.status, await response.json()

    async def user_text(self, user_id: int, text: str, *, language_code: str) -> Any:
        assert self._http is not None
        body = {"user_id": user_id, "text": text, "language_code": language_code}
        async with self._http.post("/user_text", json=body) as response:
            response.raise_for_status()
            return await response.json()

    async def sent_count(self, chat: int) -> int:
        return int((await self._get("/sent_count", chat=chat))[1]["count"])

    async def wait_for_messages(self, chat: int, count: int, timeout: float) -> bool:
        """Whether the chat had `count` messages within `timeout` seconds."""
        status, _ = await self._get("/wait_for_messages", chat=chat, count=count, timeout=timeout)
        return bool(status == 200)

    async def sent_counts(self, first: int, count: int) -> list[int]:
        return [int(n) for n in (await self._get("/sent_counts", first=first, count=count))[1]]

    async def stats(self) -> dict[str, int]:
        return {key: int(n) for key, n in (await self._get("/stats"))[1]["stats"].items()}

    async def busiest_second(self) -> int:
        return int((await self._get("/stats"))[1]["busiest_second"])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--global-per-second", type=float, default=None, help="flood limit on message sends"
    )
    args = parser.parse_args(argv)
    asyncio.run(serve(args.global_per_second))


if __name__ == "__main__":
    main(sys.argv[1:])
