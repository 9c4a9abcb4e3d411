"""The bureau's desk: the staff dashboard under /desk/, server-rendered with Jinja2.

Only translates: each handler reads the form, calls `bot.services.desk` / `statistics` / `staff`
(the same functions as the operator's CLI) and renders the result. Sessions live in the database
(HttpOnly, SameSite=Lax, Secure behind TLS); every POST carries the session's CSRF token; every
text comes from messages/<locale>/desk.ftl.
"""

from __future__ import annotations

import hmac
import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

import jinja2
from aiohttp import web

from bot.config import Settings
from bot.domain.access import StaffRole, Verb
from bot.domain.cases import Status
from bot.domain.categories import CATEGORIES
from bot.domain.decisions import CaseRules
from bot.domain.grid import GridIndex, Level
from bot.services import campaigns, desk, staff, statistics
from bot.services.desk import CaseFilter, FilterRefused
from bot.services.staff import Current, StaffRefused, actor_of
from bot.storage.db import Database
from bot.storage.media_store import MediaStore
from bot.storage.models import Staff
from messages import LOCALES, Translator, normalize_locale

HERE = Path(__file__).resolve().parent
COOKIE = "jingtu_desk"
LOGIN_COOKIE = "jingtu_desk_login"  # the sign-in form's CSRF token (no session exists yet)
CURRENT = web.RequestKey("desk_current", Current)

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


@dataclass
class DeskDeps:
    """What the desk needs from the composition root."""

    database: Database
    settings: Settings
    grid: Callable[[], GridIndex]
    rules: Callable[[], CaseRules]
    clock: Callable[[], datetime]
    poke: Callable[[], None]  # the outbox sends what an action staged, now
    media: MediaStore  # the case photos and recordings the media fetcher downloaded


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(HERE / "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["tojson_attr"] = lambda v: json.dumps(v, ensure_ascii=False)
    return env


class Desk:
    def __init__(self, deps: DeskDeps) -> None:
        self.deps = deps
        self.env = _environment()
        self.idle = timedelta(minutes=deps.settings.desk_session_minutes)

    # --- wiring --------------------------------------------------------------------------------

    def add_routes(self, app: web.Application) -> None:
        r = app.router
        r.add_get("/desk", self._redirect_home)
        r.add_get("/desk/", self._redirect_home)
        r.add_get("/desk/login", self.login_page)
        r.add_post("/desk/login", self.login)
        r.add_post("/desk/logout", self._guard(self.logout))
        r.add_post("/desk/locale", self._guard(self.set_locale))
        r.add_get("/desk/cases", self._guard(self.cases))
        r.add_get("/desk/cases.csv", self._guard(self.cases_csv))
        r.add_get("/desk/cases/{number}", self._guard(self.case_page))
        r.add_get(r"/desk/cases/{number}/photos/{photo_id:\d{1,9}}", self._guard(self.case_media))
        r.add_post("/desk/cases/{number}/{action}", self._guard(self.case_action))
        r.add_get("/desk/map", self._guard(self.map_page))
        r.add_get("/desk/map/cells.geojson", self._guard(self.cells_geojson))
        r.add_get("/desk/map/pins.json", self._guard(self.pins))
        r.add_get("/desk/stats", self._guard(self.stats_page))
        r.add_get("/desk/stats.json", self._guard(self.stats_json))
        r.add_get("/desk/report", self._guard(self.report_page))
        r.add_get("/desk/supervisors", self._guard(self.supervisors_page))
        r.add_post("/desk/supervisors/{id}/remove", self._guard(self.remove_supervisor))
        r.add_post("/desk/invites/{id}/revoke", self._guard(self.revoke_invite))
        r.add_get("/desk/campaigns", self._guard(self.campaigns_page))
        r.add_get("/desk/campaigns/runs.json", self._guard(self.runs_json))
        r.add_post("/desk/campaigns/schedules", self._guard(self.add_schedule))
        r.add_post("/desk/campaigns/schedules/{id}/cancel", self._guard(self.cancel_schedule))
        r.add_static("/desk/static/", HERE / "static", append_version=False)

    # --- sessions, CSRF, rendering --------------------------------------------------------------

    def _secure(self, request: web.Request) -> bool:
        return request.secure or request.headers.get("X-Forwarded-Proto", "") == "https"

    def _set_cookie(
        self, request: web.Request, resp: web.StreamResponse, name: str, value: str
    ) -> None:
        resp.set_cookie(
            name,
            value,
            httponly=True,
            samesite="Lax",
            secure=self._secure(request),
            path="/desk",
        )

    def _guard(self, handler: Handler) -> Handler:
        """Signed in, or off to the sign-in page; a POST must carry the session's CSRF token."""

        async def guarded(request: web.Request) -> web.StreamResponse:
            now = self.deps.clock()
            who = await staff.current(
                self.deps.database, request.cookies.get(COOKIE, ""), now=now, idle=self.idle
            )
            if who is None:
                if request.path.endswith((".json", ".geojson", ".csv")):
                    return web.json_response({"error": "sign in first"}, status=401)
                query = urlencode({"next": request.path_qs if request.method == "GET" else ""})
                raise web.HTTPSeeOther(f"/desk/login?{query}&expired=1")
            request[CURRENT] = who
            if request.method == "POST":
                form = await request.post()
                sent = str(form.get("csrf", ""))
                if not hmac.compare_digest(sent.encode(), who.csrf_token.encode()):
                    return self.render(
                        request,
                        "error.html",
                        status=403,
                        message=self.t(request)("desk-csrf-refused"),
                    )
            return await handler(request)

        return guarded

    def locale(self, request: web.Request) -> str:
        who = request.get(CURRENT)
        if who is not None and who.staff.locale in LOCALES:
            return str(who.staff.locale)
        header = request.headers.get("Accept-Language", "")
        first = header.split(",")[0].split(";")[0].strip()
        return (
            normalize_locale(first, self.deps.settings.default_locale)
            if first
            else (self.deps.settings.default_locale)
        )

    def t(self, request: web.Request) -> Translator:
        return Translator(self.locale(request))

    def render(
        self, request: web.Request, name: str, *, status: int = 200, **ctx: Any
    ) -> web.Response:
        who: Current | None = request.get(CURRENT)
        locale = self.locale(request)
        tz = ZoneInfo(self.deps.settings.timezone)

        def when(moment: datetime | None) -> str:
            return moment.astimezone(tz).strftime("%Y-%m-%d %H:%M") if moment else "—"

        grid = self.deps.grid()

        def cell(code: str | None) -> str:
            ref = grid.cells.get(code or "")
            return f"{ref.names.for_locale(locale)} ({code})" if ref else (code or "—")

        body = self.env.get_template(name).render(
            t=Translator(locale),
            locale=locale,
            locales=LOCALES,
            me=who.staff if who else None,
            csrf=who.csrf_token if who else "",
            when=when,
            cell=cell,
            path=request.path,
            **ctx,
        )
        resp = web.Response(text=body, status=status, content_type="text/html", charset="utf-8")
        resp.headers["Content-Security-Policy"] = self._csp()
        resp.headers["X-Frame-Options"] = "DENY"
        resp.headers["Referrer-Policy"] = "same-origin"
        resp.headers["Cache-Control"] = "no-store"
        return resp

    def _csp(self) -> str:
        tiles = self.deps.settings.map_tiles_url
        img = "'self' data:"
        if tiles:
            scheme, _, rest = tiles.partition("://")
            host = rest.split("/")[0].replace("{s}", "*")
            img += f" {scheme}://{host}"
        return (
            "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
            f"img-src {img}; frame-ancestors 'none'; form-action 'self'"
        )

    def _staff(self, request: web.Request) -> Staff:
        return request[CURRENT].staff

    def _back(self, request: web.Request, to: str, **flash: str) -> web.HTTPSeeOther:
        sep = "&" if "?" in to else "?"
        return web.HTTPSeeOther(to + (sep + urlencode(flash) if flash else ""))

    # --- signing in --------------------------------------------------------------------------------

    async def _redirect_home(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPSeeOther("/desk/cases")

    async def login_page(
        self, request: web.Request, *, error: str = "", status: int = 200
    ) -> web.Response:
        token = secrets.token_urlsafe(24)
        nxt = request.query.get("next", "")
        message = error or (
            self.t(request)("desk-session-expired") if request.query.get("expired") else ""
        )
        resp = self.render(
            request,
            "login.html",
            status=status,
            login_csrf=token,
            next=_safe_next(nxt),
            error=message,
        )
        self._set_cookie(request, resp, LOGIN_COOKIE, token)
        return resp

    async def login(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        sent = str(form.get("csrf", ""))
        cookie = request.cookies.get(LOGIN_COOKIE, "")
        if not cookie or not hmac.compare_digest(sent.encode(), cookie.encode()):
            return self.render(
                request, "error.html", status=403, message=self.t(request)("desk-csrf-refused")
            )
        client = request.remote or "?"
        try:
            signed = await staff.login(
                self.deps.database,
                name=str(form.get("name", "")).strip(),
                password=str(form.get("password", "")),
                client=client,
                now=self.deps.clock(),
            )
        except StaffRefused as exc:
            status = 429 if exc.key == "desk-login-throttled" else 401
            return await self.login_page(
                request, error=self.t(request)(exc.key, **exc.args_for_message), status=status
            )
        resp = web.HTTPSeeOther(_safe_next(str(form.get("next", ""))) or "/desk/cases")
        self._set_cookie(request, resp, COOKIE, signed.token)
        resp.del_cookie(LOGIN_COOKIE, path="/desk")
        raise resp

    async def logout(self, request: web.Request) -> web.StreamResponse:
        await staff.logout(
            self.deps.database, request.cookies.get(COOKIE, ""), now=self.deps.clock()
        )
        resp = web.HTTPSeeOther("/desk/login")
        resp.del_cookie(COOKIE, path="/desk")
        raise resp

    async def set_locale(self, request: web.Request) -> web.StreamResponse:
        form = await request.post()
        wanted = str(form.get("locale", ""))
        if wanted in LOCALES:
            await staff.set_locale(self.deps.database, self._staff(request).id, wanted)
        raise web.HTTPSeeOther(_safe_next(str(form.get("next", ""))) or "/desk/cases")

    # --- cases -----------------------------------------------------------------------------------------

    def _filter(self, request: web.Request) -> CaseFilter:
        q = request.query
        flt = CaseFilter(
            status=q.get("status") or None,
            category=q.get("category") or None,
            cell=(q.get("cell") or "").strip() or None,
            overdue=q.get("overdue") == "1",
            since=desk.parse_date(q.get("since", ""), "since"),
            until=desk.parse_date(q.get("until", ""), "until"),
            text=q.get("q", "")[:100],
        )
        return desk.check_filter(self.deps.grid(), flt)

    async def cases(self, request: web.Request) -> web.Response:
        t = self.t(request)
        error = ""
        try:
            flt = self._filter(request)
        except FilterRefused as exc:
            error = t(exc.key, **exc.args_for_message)
            flt = CaseFilter()
        try:
            page_no = int(request.query.get("page", "1"))
        except ValueError:
            page_no = 1
        async with self.deps.database.reader() as session:
            page = await desk.list_cases(
                session,
                self.deps.grid(),
                actor_of(self._staff(request)),
                flt,
                now=self.deps.clock(),
                tz=self.deps.settings.timezone,
                page=page_no,
            )
        query = {k: v for k, v in request.query.items() if k != "page"}
        return self.render(
            request,
            "cases.html",
            page=page,
            flt=flt,
            query=query,
            error=error,
            statuses=["open", *(s.value for s in Status)],
            categories=[c.code for c in CATEGORIES],
            page_link=lambda n: "/desk/cases?" + urlencode({**query, "page": n}),
            csv_link="/desk/cases.csv?" + urlencode(query),
        )

    async def cases_csv(self, request: web.Request) -> web.StreamResponse:
        try:
            flt = self._filter(request)
        except FilterRefused as exc:
            return web.json_response({"error": str(exc)}, status=400)
        me = self._staff(request)
        async with self.deps.database.transaction() as session:
            rows = await desk.all_cases(
                session,
                self.deps.grid(),
                actor_of(me),
                flt,
                now=self.deps.clock(),
                tz=self.deps.settings.timezone,
            )
            staff.record(
                session, me, "export-csv", now=self.deps.clock(), detail=f"{len(rows)} rows"
            )
        text = desk.cases_csv(rows, self.deps.grid(), tz=self.deps.settings.timezone)
        stamp = self.deps.clock().astimezone(ZoneInfo(self.deps.settings.timezone))
        return web.Response(
            body=text.encode("utf-8"),
            content_type="text/csv",
            charset="utf-8",
            headers={
                "Content-Disposition": f'attachment; filename="jingtu-cases-{stamp:%Y%m%d-%H%M}.csv"',
                "Cache-Control": "no-store",
            },
        )

    async def case_page(
        self, request: web.Request, *, error: str = "", status: int = 200
    ) -> web.Response:
        number = request.match_info["number"]
        async with self.deps.database.reader() as session:
            detail = await desk.case_detail(
                session, self.deps.grid(), actor_of(self._staff(request)), number
            )
        t = self.t(request)
        if detail is None:
            return self.render(
                request,
                "error.html",
                status=404,
                message=t("desk-case-not-found", number=number[:20]),
            )
        grid = self.deps.grid()
        me = actor_of(self._staff(request))
        area = desk.subtree(grid, me.cells) if me.staff == StaffRole.COUNTY else set(grid.cells)
        choices = sorted(c for c in area if c != detail.case.cell_code)
        return self.render(
            request,
            "case.html",
            status=status,
            d=detail,
            c=detail.case,
            Verb=Verb,
            error=error,
            done=request.query.get("done", ""),
            reassign_cells=choices,
            tiles=self.deps.settings.map_tiles_url,
            at=_wgs84(grid, detail.case.lat, detail.case.lon),
        )

    async def case_media(self, request: web.Request) -> web.StreamResponse:
        """A stored photo or recording of a case, from the media store, under the case's rule."""
        number = request.match_info["number"]
        async with self.deps.database.reader() as session:
            try:
                found = await desk.case_media(
                    session,
                    self.deps.grid(),
                    actor_of(self._staff(request)),
                    number,
                    int(request.match_info["photo_id"]),
                )
            except desk.MediaRefused as exc:
                message = self.t(request)(exc.key, **exc.args_for_message)
                return self.render(request, "error.html", status=404, message=message)
        data = await self.deps.media.read(found.sha256)
        if data is None:  # recorded as stored, but the file is gone or damaged on the disk
            message = self.t(request)("desk-photo-missing", number=number[:20])
            return self.render(request, "error.html", status=410, message=message)
        return web.Response(
            body=data,
            content_type=found.mime_type,
            headers={
                "Cache-Control": "private, max-age=3600",
                "X-Content-Type-Options": "nosniff",
                "Content-Security-Policy": "default-src 'none'; sandbox",
            },
        )

    async def case_action(self, request: web.Request) -> web.StreamResponse:
        number = request.match_info["number"]
        action = request.match_info["action"]
        form = await request.post()
        act = desk.DeskAction(
            self.deps.database,
            self.deps.settings,
            self.deps.grid(),
            self.deps.rules(),
            self._staff(request),
            self.deps.clock(),
        )
        try:
            if action == "reassign":
                await desk.reassign(
                    act, number, str(form.get("cell", "")), str(form.get("reason", ""))
                )
            elif action == "duplicate":
                await desk.close_as_duplicate(
                    act, number, str(form.get("of", "")), str(form.get("reason", ""))
                )
            elif action == "note":
                await desk.add_note(act, number, str(form.get("text", "")))
            elif action == "message":
                await desk.message_reporters(act, number, str(form.get("text", "")))
            else:
                raise web.HTTPNotFound()
        except desk.ActionRefused as exc:
            message = self.t(request)(exc.key, **exc.args_for_message)
            status = (
                404
                if exc.key == "desk-case-not-found"
                else 403
                if exc.key == "desk-read-only"
                else 400
            )
            if status == 404:
                return self.render(request, "error.html", status=404, message=message)
            return await self.case_page(request, error=message, status=status)
        self.deps.poke()
        raise self._back(request, f"/desk/cases/{number}", done=action)

    # --- the map --------------------------------------------------------------------------------------

    async def map_page(self, request: web.Request) -> web.Response:
        return self.render(request, "map.html", tiles=self.deps.settings.map_tiles_url)

    async def cells_geojson(self, request: web.Request) -> web.StreamResponse:
        wanted = request.query.get("level", "county")
        try:
            level = None if wanted == "all" else Level(wanted)
        except ValueError:
            return web.json_response(
                {"error": "level: city, county, township, village or all"}, status=400
            )
        async with self.deps.database.reader() as session:
            body = await desk.cells_geojson(
                session,
                self.deps.grid(),
                actor_of(self._staff(request)),
                level,
                now=self.deps.clock(),
                locale=self.locale(request),
            )
        return web.Response(text=body, content_type="application/json", charset="utf-8")

    async def pins(self, request: web.Request) -> web.StreamResponse:
        async with self.deps.database.reader() as session:
            rows = await desk.open_pins(
                session, self.deps.grid(), actor_of(self._staff(request)), now=self.deps.clock()
            )
        t = self.t(request)
        grid = self.deps.grid()
        return web.json_response(
            [
                {
                    "number": r.number,
                    **_wgs84(grid, r.lat, r.lon),
                    "overdue": r.overdue,
                    "label": f"{r.number} · {t('category-' + r.category)} · {t('desk-status-' + r.status)}",
                }
                for r in rows
            ],
            dumps=lambda v: json.dumps(v, ensure_ascii=False),
        )

    # --- statistics -----------------------------------------------------------------------------------

    def _period(self, request: web.Request) -> tuple[date, date, str]:
        tz = ZoneInfo(self.deps.settings.timezone)
        since, until = statistics.default_period(self.deps.clock().astimezone(tz).date())
        try:
            since = desk.parse_date(request.query.get("since", ""), "since") or since
            until = desk.parse_date(request.query.get("until", ""), "until") or until
        except FilterRefused as exc:
            return since, until, self.t(request)(exc.key, **exc.args_for_message)
        if since > until:
            return until, since, self.t(request)("desk-bad-range")
        return since, until, ""

    async def _statistics(
        self, request: web.Request, since: date, until: date
    ) -> statistics.Statistics:
        async with self.deps.database.reader() as session:
            return await statistics.statistics(
                session,
                self.deps.grid(),
                actor_of(self._staff(request)),
                since=since,
                until=until,
                tz=self.deps.settings.timezone,
            )

    async def stats_page(self, request: web.Request) -> web.Response:
        since, until, error = self._period(request)
        stats = await self._statistics(request, since, until)
        locale = self.locale(request)
        t = self.t(request)
        counties = list(statistics.counties(stats, self.deps.grid(), locale))
        chart = {
            "labels": [name for _, name, _ in counties],
            "series": [
                {"label": t("desk-stat-received"), "data": [f.received for _, _, f in counties]},
                {"label": t("desk-stat-resolved"), "data": [f.resolved for _, _, f in counties]},
                {
                    "label": t("desk-stat-escalations"),
                    "data": [f.escalations for _, _, f in counties],
                },
            ],
        }
        return self.render(
            request,
            "stats.html",
            s=stats,
            counties=counties,
            chart=chart,
            error=error,
            since=since,
            until=until,
        )

    async def stats_json(self, request: web.Request) -> web.StreamResponse:
        since, until, error = self._period(request)
        if error:
            return web.json_response({"error": error}, status=400)
        stats = await self._statistics(request, since, until)
        return web.json_response(stats.as_json(), dumps=lambda v: json.dumps(v, ensure_ascii=False))

    async def report_page(self, request: web.Request) -> web.Response:
        tz = ZoneInfo(self.deps.settings.timezone)
        today = self.deps.clock().astimezone(tz).date()
        raw = request.query.get("period", f"{today:%Y-%m}")
        try:
            since, until = statistics.parse_period(raw)
        except ValueError:
            return self.render(
                request,
                "error.html",
                status=400,
                message=Translator("zh-Hans")("desk-bad-period", value=raw),
            )
        stats = await self._statistics(request, since, until)
        counties = list(statistics.counties(stats, self.deps.grid(), "zh-Hans"))
        # The report is the page a bureau pastes into its Chinese annual summary: always zh-Hans.
        zh = Translator("zh-Hans")
        return self.render(
            request,
            "report.html",
            s=stats,
            counties=counties,
            zh=zh,
            yearly=len(raw.strip()) == 4,
            raw=raw,
            generated=self.deps.clock(),
        )

    # --- supervisors -----------------------------------------------------------------------------------

    async def supervisors_page(self, request: web.Request) -> web.Response:
        me = self._staff(request)
        actor = actor_of(me)
        grid = self.deps.grid()
        now = self.deps.clock()
        async with self.deps.database.reader() as session:
            entries = await desk.roster(session, grid, actor)
            staffed = await desk.staffed_cells(session)
            invites = await desk.list_invites(session, grid, actor, now=now)
            unreachable = await desk.unreachable_supervisors(session, grid, actor, now=now)
        unstaffed = desk.unstaffed_cells(grid, actor, staffed)
        return self.render(
            request,
            "supervisors.html",
            entries=entries[:2000],
            total=len(entries),
            unstaffed=unstaffed,
            invites=invites[:500],
            unreachable=unreachable,
            can_act=actor.staff != StaffRole.VIEWER,
            done=request.query.get("done", ""),
            error=request.query.get("error", ""),
        )

    async def remove_supervisor(self, request: web.Request) -> web.StreamResponse:
        try:
            await desk.remove_supervisor(
                self.deps.database,
                int(request.match_info["id"]),
                staff=self._staff(request),
                grid=self.deps.grid(),
                now=self.deps.clock(),
            )
        except (ValueError, desk.NotFound):
            raise self._back(
                request, "/desk/supervisors", error="desk-supervisor-unknown"
            ) from None
        raise self._back(request, "/desk/supervisors", done="removed")

    async def revoke_invite(self, request: web.Request) -> web.StreamResponse:
        try:
            await desk.revoke_invite(
                self.deps.database,
                invite_id=int(request.match_info["id"]),
                staff=self._staff(request),
                grid=self.deps.grid(),
                now=self.deps.clock(),
            )
        except ValueError:
            raise self._back(request, "/desk/supervisors", error="desk-invite-unknown") from None
        except desk.NotFound as exc:
            raise self._back(request, "/desk/supervisors", error=exc.key) from None
        raise self._back(request, "/desk/supervisors", done="revoked")

    # --- campaigns -------------------------------------------------------------------------------------

    async def campaigns_page(self, request: web.Request) -> web.Response:
        library = campaigns.load_library()
        schedules = await campaigns.list_schedules(self.deps.database)
        runs = await campaigns.list_runs(self.deps.database)
        return self.render(
            request,
            "campaigns.html",
            library=sorted(library.values(), key=lambda c: c.id),
            schedules=schedules,
            runs=runs,
            can_act=self._staff(request).role == StaffRole.ADMIN.value,
            done=request.query.get("done", ""),
            error=request.query.get("error", ""),
        )

    async def runs_json(self, request: web.Request) -> web.StreamResponse:
        runs = await campaigns.list_runs(self.deps.database)
        out = []
        async with self.deps.database.reader() as session:
            for run in runs:
                counts = await campaigns.delivery_counts(session, run.id)
                out.append(
                    {
                        "id": run.id,
                        "campaign": run.campaign_id,
                        "status": run.status,
                        "total": sum(counts.values()),
                        "sent": counts.get("sent", 0),
                        "failed": counts.get("failed", 0) + counts.get("blocked", 0),
                        "pending": counts.get("pending", 0),
                    }
                )
        return web.json_response(out)

    def _admin_only(self, request: web.Request) -> None:
        if self._staff(request).role != StaffRole.ADMIN.value:
            raise self._back(request, "/desk/campaigns", error="desk-admin-only")

    async def add_schedule(self, request: web.Request) -> web.StreamResponse:
        self._admin_only(request)
        form = await request.post()
        tz = ZoneInfo(self.deps.settings.timezone)
        now = self.deps.clock()
        cron = str(form.get("cron", "")).strip() or None
        at_raw = str(form.get("run_at", "")).strip()
        try:
            run_at = datetime.fromisoformat(at_raw).replace(tzinfo=tz) if at_raw else None
        except ValueError:
            raise self._back(request, "/desk/campaigns", error="desk-bad-time") from None
        if (cron is None) == (run_at is None):
            raise self._back(request, "/desk/campaigns", error="desk-cron-or-time")
        try:
            req = campaigns.build_request(
                str(form.get("campaign", "")), area=str(form.get("area", "")).strip() or None
            )
            async with self.deps.database.transaction() as session:
                await campaigns.check_target(session, req.target)
                schedule = await campaigns.add_schedule(
                    session, req, cron=cron, run_at=run_at, now=now, tz=tz
                )
                staff.record(
                    session,
                    self._staff(request),
                    "schedule-added",
                    now=now,
                    detail=f"#{schedule.id} {req.campaign.id}",
                )
        except campaigns.CampaignError as exc:
            raise self._back(
                request, "/desk/campaigns", error="desk-campaign-refused", detail=str(exc)
            ) from None
        raise self._back(request, "/desk/campaigns", done="scheduled")

    async def cancel_schedule(self, request: web.Request) -> web.StreamResponse:
        self._admin_only(request)
        try:
            schedule_id = int(request.match_info["id"])
            await campaigns.unschedule(self.deps.database, schedule_id)
        except (ValueError, campaigns.CampaignError):
            raise self._back(request, "/desk/campaigns", error="desk-schedule-unknown") from None
        async with self.deps.database.transaction() as session:
            staff.record(
                session,
                self._staff(request),
                "schedule-cancelled",
                now=self.deps.clock(),
                detail=f"#{schedule_id}",
            )
        raise self._back(request, "/desk/campaigns", done="cancelled")


def _safe_next(raw: str) -> str:
    """Only a path of the desk itself: a sign-in must not redirect anywhere else."""
    return raw if raw.startswith("/desk/") and not raw.startswith("//") and "\\" not in raw else ""


def _wgs84(grid: GridIndex, lat: float, lon: float) -> dict[str, float]:
    """A case's place (stored in the grid's datum) for the map, which draws in WGS-84."""
    point = grid.to_wgs84(lat, lon)
    return {"lat": round(point.lat, 7), "lon": round(point.lon, 7)}
