"""Open311 GeoReport v2 under /open311/v2/ (http://wiki.open311.org/GeoReport_v2).

Each resource answers in JSON or XML by its extension; errors come in the spec's error format
(`[{"code": …, "description": …}]`, `<errors><error>…</error></errors>`) with the HTTP status
the code names. This module only translates: it checks types and sizes, hands the request to
`bot.services.open311` and renders what comes back. Texts come from messages/<locale>/open311.ftl,
in the `locale` parameter's language, else the Accept-Language header's, else the default.
"""

from __future__ import annotations

import json
import math
import unicodedata
import xml.etree.ElementTree as ET
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from aiohttp import web

from bot.config import Settings
from bot.domain import categories
from bot.domain.cases import DeadlinePolicy
from bot.domain.grid import GridIndex, Level
from bot.services import open311
from bot.services.open311 import Open311Refused, PostedRequest, RequestFilter, RequestView
from bot.services.reports import MAX_DESCRIPTION, MIN_DESCRIPTION
from bot.storage.db import Database
from messages import normalize_locale, text

BASE = "/open311/v2"
MAX_BODY = 16 * 1024  # a POST carries a few short fields and one description
MAX_FIELD = 200
MAX_IDS = 100
FORMAT = "{fmt:json|xml}"
EMERGENCY = "emergency"
YES_NO = ("yes", "no")
# XML: a list under this key holds elements named so.
XML_ITEM = {"attributes": "attribute", "values": "value"}

Json = dict[str, Any]


class Refusal(Exception):
    """Bad input found by this module, before any service was asked."""

    def __init__(self, status: int, key: str, **args: object) -> None:
        super().__init__(key)
        self.status = status
        self.key = key
        self.args_for_message = args


def _xml_value(parent: ET.Element, key: str, value: Any) -> None:
    element = ET.SubElement(parent, key)
    if isinstance(value, list):
        for item in value:
            _xml_item(element, XML_ITEM.get(key, "item"), item)
    elif isinstance(value, bool):
        element.text = "true" if value else "false"
    elif value is not None:
        element.text = str(value)


def _xml_item(parent: ET.Element, tag: str, item: Mapping[str, Any]) -> None:
    element = ET.SubElement(parent, tag)
    for key, value in item.items():
        _xml_value(element, key, value)


def render(
    fmt: str, root: str, item: str, items: Sequence[Mapping[str, Any]], status: int = 200
) -> web.Response:
    """The spec's shapes: a JSON array of objects, or <root><item>…</item>…</root>."""
    if fmt == "json":
        return web.Response(
            status=status,
            text=json.dumps(list(items), ensure_ascii=False),
            content_type="application/json",
            charset="utf-8",
        )
    tree = ET.Element(root)
    for entry in items:
        _xml_item(tree, item, entry)
    body = ET.tostring(tree, encoding="utf-8", xml_declaration=True)
    return web.Response(status=status, body=body, content_type="text/xml", charset="utf-8")


def _plain(label: str) -> str:
    """A catalog label without its leading emoji: a group name for machines to show."""
    i = 0
    while i < len(label) and unicodedata.category(label[i]) in {"So", "Sk", "Mn", "Zs", "Cf"}:
        i += 1
    return label[i:]


def _parse_time(field: str, raw: str) -> datetime:
    try:
        value = datetime.fromisoformat(raw) if len(raw) <= 40 else None
    except ValueError:
        value = None
    if value is None or value.tzinfo is None:
        raise Refusal(400, "open311-error-date", field=field)
    return value


def _list(raw: str | None, field: str, *, allowed: Sequence[str] | None = None) -> list[str]:
    if not raw:
        return []
    items = [part.strip() for part in raw.split(",") if part.strip()]
    if len(items) > MAX_IDS or any(len(part) > MAX_FIELD for part in items):
        raise Refusal(400, "open311-error-field", field=field, max=MAX_FIELD)
    if allowed is not None:
        for part in items:
            if part not in allowed:
                if field == "service_code":
                    raise Refusal(400, "open311-error-service-code", code=part[:40])
                raise Refusal(400, "open311-error-status")
    return items


class Open311Api:
    """The GeoReport v2 endpoint of one running Jingtu."""

    def __init__(
        self,
        database: Database,
        settings: Settings,
        grid: Callable[[], GridIndex],
        policy: DeadlinePolicy,
        *,
        clock: Callable[[], datetime],
        on_filed: Callable[[], None] = lambda: None,
    ) -> None:
        self.database = database
        self.settings = settings
        self.grid = grid
        self.policy = policy
        self.clock = clock
        self.on_filed = on_filed  # notices were staged: the outbox may send them now

    def add_routes(self, app: web.Application) -> None:
        app.router.add_get(f"{BASE}/services.{FORMAT}", self.services)
        app.router.add_get(f"{BASE}/services/{{code}}.{FORMAT}", self.service_definition)
        app.router.add_get(f"{BASE}/requests.{FORMAT}", self.requests)
        app.router.add_post(f"{BASE}/requests.{FORMAT}", self.post_request)
        app.router.add_get(f"{BASE}/requests/{{id}}.{FORMAT}", self.request)
        app.router.add_get(f"{BASE}/tokens/{{token}}.{FORMAT}", self.token)

    # --- helpers ------------------------------------------------------------------------------

    def _locale(self, request: web.Request, form: Mapping[str, str] | None = None) -> str:
        default = self.settings.default_locale
        asked = (form or {}).get("locale") or request.query.get("locale")
        if asked:
            return normalize_locale(asked[:20], default)
        header = request.headers.get("Accept-Language", "")
        first = header.split(",")[0].split(";")[0].strip()
        return normalize_locale(first[:20], default) if first else default

    def _error(
        self, request: web.Request, locale: str, status: int, key: str, args: Mapping[str, Any]
    ) -> web.Response:
        fmt = request.match_info["fmt"]
        body = [{"code": status, "description": text(locale, key, **args)}]
        return render(fmt, "errors", "error", body, status=status)

    def _time(self, value: datetime | None) -> str | None:
        if value is None:
            return None
        return value.astimezone(self.settings.tz).isoformat(timespec="seconds")

    def _cell_name(self, code: str, locale: str) -> str:
        cell = self.grid().cells.get(code)
        return cell.names.for_locale(locale) if cell else code

    def _address(self, code: str, locale: str) -> str:
        """The place by name, county first: the cell chain below the city."""
        grid = self.grid()
        if code not in grid.cells:
            return code
        names = [c.names.for_locale(locale) for c in grid.chain_of(code) if c.level != Level.CITY]
        return " ".join(reversed(names))

    def _request_json(self, view: RequestView, locale: str, *, with_text: bool) -> Json:
        category = categories.get(view.category)
        responsible = self._cell_name(view.responsible_cell, locale)
        note = text(
            locale,
            f"open311-status-{view.status}",
            cell=responsible,
            number=view.merged_into or "",
        )
        return {
            "service_request_id": view.number,
            "status": open311.open_or_closed(view.status),
            "status_notes": note,
            "service_name": text(locale, category.message_key) if category else view.category,
            "service_code": view.category,
            # Residents' own words go only to key holders; see README, "Open311".
            "description": view.description if with_text else None,
            "agency_responsible": responsible,
            "service_notice": None,
            "requested_datetime": self._time(view.requested_at),
            "updated_datetime": self._time(view.updated_at),
            "expected_datetime": self._time(view.expected_at),
            "address": self._address(view.origin_cell, locale),
            "address_id": None,
            "zipcode": None,
            "lat": round(view.position.lat, 6),
            "long": round(view.position.lon, 6),
            "media_url": None,
        }

    async def _key_holder(self, request: web.Request) -> bool:
        """Whether a valid api_key came with a GET; a key that was given but is bad is refused."""
        key = request.query.get("api_key", "")
        if not key:
            return False
        if len(key) > MAX_FIELD or not await open311.key_is_valid(self.database, key):
            raise Refusal(403, "open311-error-api-key")
        return True

    # --- services -----------------------------------------------------------------------------

    async def services(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        items = [
            {
                "service_code": c.code,
                "service_name": text(locale, c.message_key),
                "description": text(locale, c.message_key),
                # Urgent categories are emergencies by nature; the others ask.
                "metadata": not c.urgent,
                "type": "realtime",
                "keywords": f"{c.group}, {c.code}",
                "group": _plain(text(locale, f"group-{c.group}")),
            }
            for c in categories.CATEGORIES
        ]
        return render(request.match_info["fmt"], "services", "service", items)

    async def service_definition(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        code = request.match_info["code"]
        category = categories.get(code)
        if category is None:
            args = {"code": code[:40]}
            return self._error(request, locale, 404, "open311-error-service-code", args)
        attributes = []
        if not category.urgent:
            attributes.append(
                {
                    "variable": True,
                    "code": EMERGENCY,
                    "datatype": "singlevaluelist",
                    "required": False,
                    "datatype_description": None,
                    "order": 1,
                    "description": text(locale, "open311-attribute-emergency"),
                    "values": [
                        {"key": key, "name": text(locale, f"open311-value-{key}")} for key in YES_NO
                    ],
                }
            )
        body = {"service_code": category.code, "attributes": attributes}
        fmt = request.match_info["fmt"]
        if fmt == "json":
            # The one resource that is an object rather than an array.
            return web.json_response(body, dumps=lambda v: json.dumps(v, ensure_ascii=False))
        tree = ET.Element("service_definition")
        for key, value in body.items():
            _xml_value(tree, key, value)
        xml = ET.tostring(tree, encoding="utf-8", xml_declaration=True)
        return web.Response(body=xml, content_type="text/xml", charset="utf-8")

    # --- requests -----------------------------------------------------------------------------

    async def requests(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        query = request.query
        try:
            with_text = await self._key_holder(request)
            wanted = RequestFilter(
                numbers=_list(query.get("service_request_id"), "service_request_id"),
                service_codes=_list(
                    query.get("service_code"), "service_code", allowed=list(categories.BY_CODE)
                ),
                start=_parse_time("start_date", query["start_date"])
                if "start_date" in query
                else None,
                end=_parse_time("end_date", query["end_date"]) if "end_date" in query else None,
                statuses=_list(query.get("status"), "status", allowed=("open", "closed")),
            )
            views = await open311.find_requests(
                self.database, self.grid().datum, wanted, now=self.clock()
            )
        except (Refusal, Open311Refused) as refused:
            return self._error(
                request, locale, refused.status, refused.key, refused.args_for_message
            )
        items = [self._request_json(v, locale, with_text=with_text) for v in views]
        return render(request.match_info["fmt"], "service_requests", "request", items)

    async def request(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        number = request.match_info["id"]
        try:
            with_text = await self._key_holder(request)
        except Refusal as refused:
            return self._error(request, locale, refused.status, refused.key, {})
        views = []
        if len(number) <= 20:
            wanted = RequestFilter(numbers=[number])
            views = await open311.find_requests(
                self.database, self.grid().datum, wanted, now=self.clock()
            )
        if not views:
            args = {"id": number[:40]}
            return self._error(request, locale, 404, "open311-error-request-not-found", args)
        items = [self._request_json(v, locale, with_text=with_text) for v in views]
        return render(request.match_info["fmt"], "service_requests", "request", items)

    async def token(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        token = request.match_info["token"]
        number = await open311.request_by_token(self.database, token) if len(token) <= 64 else None
        if number is None:
            args = {"token": token[:64]}
            return self._error(request, locale, 404, "open311-error-token-not-found", args)
        items = [{"service_request_id": number, "token": token}]
        return render(request.match_info["fmt"], "service_requests", "request", items)

    async def post_request(self, request: web.Request) -> web.Response:
        locale = self._locale(request)
        try:
            form = await self._read_form(request)
            locale = self._locale(request, form)
            api_key = form.get("api_key", "")
            if not api_key or not await open311.key_is_valid(self.database, api_key):
                raise Refusal(403, "open311-error-api-key")
            posted = self._posted(form)
            filed = await open311.file_request(
                self.database,
                self.settings,
                self.grid(),
                self.policy,
                api_key,
                posted,
                now=self.clock(),
            )
        except (Refusal, Open311Refused) as refused:
            return self._error(
                request, locale, refused.status, refused.key, refused.args_for_message
            )
        self.on_filed()
        if filed.joined:
            notice = text(locale, "open311-notice-joined", number=filed.number)
        else:
            notice = text(
                locale,
                "open311-notice-new",
                cell=filed.responsible.names.for_locale(locale),
                due=self._time(filed.ack_due_at) or "—",
            )
        items = [
            {
                "service_request_id": filed.number,
                "token": filed.token,
                "service_notice": notice,
                "account_id": None,
            }
        ]
        return render(request.match_info["fmt"], "service_requests", "request", items)

    async def _read_form(self, request: web.Request) -> dict[str, str]:
        """The urlencoded body (the spec's POST), bounded in size, one value per name."""
        if request.content_length is not None and request.content_length > MAX_BODY:
            raise Refusal(413, "open311-error-too-large", limit=MAX_BODY)
        body = await request.content.read(MAX_BODY + 1)
        if len(body) > MAX_BODY:
            raise Refusal(413, "open311-error-too-large", limit=MAX_BODY)
        try:
            parsed = parse_qs(body.decode("utf-8"), keep_blank_values=True, max_num_fields=50)
        except (UnicodeDecodeError, ValueError):
            raise Refusal(400, "open311-error-field", field="body", max=MAX_BODY) from None
        form: dict[str, str] = {}
        for name, values in parsed.items():
            if len(values) != 1:
                raise Refusal(400, "open311-error-field", field=name[:40], max=MAX_FIELD)
            limit = MAX_DESCRIPTION * 4 if name == "description" else MAX_FIELD
            if len(values[0]) > limit:
                raise Refusal(400, "open311-error-field", field=name[:40], max=limit)
            form[name] = values[0]
        return form

    @staticmethod
    def _posted(form: Mapping[str, str]) -> PostedRequest:
        code = form.get("service_code", "")
        if categories.get(code) is None:
            raise Refusal(400, "open311-error-service-code", code=code[:40])
        try:
            lat, lon = float(form["lat"]), float(form["long"])
        except (KeyError, ValueError):
            raise Refusal(400, "open311-error-lat-long") from None
        if not (math.isfinite(lat) and math.isfinite(lon)):
            raise Refusal(400, "open311-error-lat-long")
        description = form.get("description", "").strip()
        if not MIN_DESCRIPTION <= len(description) <= MAX_DESCRIPTION:
            raise Refusal(
                400, "open311-error-description", min=MIN_DESCRIPTION, max=MAX_DESCRIPTION
            )
        emergency = form.get(f"attribute[{EMERGENCY}]", "no") or "no"
        if emergency not in YES_NO:
            raise Refusal(400, "open311-error-field", field=f"attribute[{EMERGENCY}]", max=3)
        submitter = form.get("account_id") or form.get("device_id") or form.get("email") or ""
        return PostedRequest(
            service_code=code,
            lat=lat,
            lon=lon,
            description=description,
            emergency=emergency == "yes",
            submitter=submitter,
        )
