"""Jingtu's own HTTP server: health, and the webhook endpoints of the channels that need one."""

from __future__ import annotations

from collections.abc import Callable, Iterable

from aiohttp import web

RouteAdder = Callable[[web.Application], None]


def build_web_app(
    route_adders: Iterable[RouteAdder], *, health: Callable[[], dict[str, object]]
) -> web.Application:
    app = web.Application(client_max_size=2 * 1024 * 1024)

    async def healthz(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, **health()})

    app.router.add_get("/healthz", healthz)
    for add in route_adders:
        add(app)
    return app


async def start_web(app: web.Application, host: str, port: int) -> web.AppRunner:
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, host, port).start()
    return runner
