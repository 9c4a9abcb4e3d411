"""Jingtu's own HTTP server: /healthz, and the routes of the channels and features that need one."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable

from aiohttp import web

RouteAdder = Callable[[web.Application], None]
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def build_web_app(route_adders: Iterable[RouteAdder], *, health: Handler) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)
    app.router.add_get("/healthz", health)
    for add in route_adders:
        add(app)
    return app


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
