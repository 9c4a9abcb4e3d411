"""Open311 GeoReport v2 over real HTTP: the spec's fields in JSON and XML, a POST that becomes a
routed case whose supervisor hears of it, and the spec's errors."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator
from dataclasses import replace
from typing import Any

import aiohttp
import pytest
from sqlalchemy import func, select

from bot.app import Jingtu
from bot.config import Settings
from bot.domain import categories
from bot.services import open311
from bot.storage.models import Case, CaseReporter, OutboxMessage, Person
from tests.support.clock import FakeClock
from tests.support.drivers import ConsoleDriver

SAMZHUBZE = (29.267, 88.881)  # WGS-84
VILLAGE_AT_SAMZHUBZE = "540202006005"
KATHMANDU = (27.7172, 85.3240)

# GeoReport v2's fields, per resource (http://wiki.open311.org/GeoReport_v2).
SERVICE_FIELDS = {
    "service_code",
    "service_name",
    "description",
    "metadata",
    "type",
    "keywords",
    "group",
}
REQUEST_FIELDS = {
    "service_request_id",
    "status",
    "status_notes",
    "service_name",
    "service_code",
    "description",
    "agency_responsible",
    "service_notice",
    "requested_datetime",
    "updated_datetime",
    "expected_datetime",
    "address",
    "address_id",
    "zipcode",
    "lat",
    "long",
    "media_url",
}
ATTRIBUTE_FIELDS = {
    "variable",
    "code",
    "datatype",
    "required",
    "datatype_description",
    "order",
    "description",
    "values",
}


class Api:
    """An HTTP client of the running app's /open311/v2/."""

    def __init__(self, session: aiohttp.ClientSession, port: int) -> None:
        self.session = session
        self.base = f"http://127.0.0.1:{port}/open311/v2"

    async def get(self, path: str, **params: str) -> tuple[int, str, bytes]:
        async with self.session.get(f"{self.base}/{path}", params=params) as response:
            return response.status, response.content_type, await response.read()

    async def get_json(self, path: str, **params: str) -> tuple[int, Any]:
        status, content_type, body = await self.get(path, **params)
        assert content_type == "application/json"
        return status, json.loads(body)

    async def get_xml(self, path: str, **params: str) -> tuple[int, ET.Element]:
        status, content_type, body = await self.get(path, **params)
        assert content_type == "text/xml"
        assert body.startswith(b"<?xml")
        return status, ET.fromstring(body)

    async def post(self, path: str, data: Any, **headers: str) -> tuple[int, str, bytes]:
        async with self.session.post(f"{self.base}/{path}", data=data, headers=headers) as r:
            return r.status, r.content_type, await r.read()

    async def post_json(self, data: Any) -> tuple[int, Any]:
        status, content_type, body = await self.post("requests.json", data)
        assert content_type == "application/json"
        return status, json.loads(body)


@pytest.fixture
async def app(settings: Settings, clock: FakeClock) -> AsyncIterator[Jingtu]:
    jingtu = Jingtu(replace(settings, web_port=0, report_rate_per_hour=3), clock=clock)
    jingtu.attach_console()
    await jingtu.start(web_server=True, background=False)
    try:
        yield jingtu
    finally:
        await jingtu.stop()


@pytest.fixture
async def api(app: Jingtu) -> AsyncIterator[Api]:
    assert app.web_port is not None
    async with aiohttp.ClientSession() as session:
        yield Api(session, app.web_port)


@pytest.fixture
async def key(app: Jingtu, clock: FakeClock) -> str:
    return await open311.add_key(app.database, "city-app", now=clock())


def request_form(key: str, **fields: str) -> dict[str, str]:
    lat, lon = SAMZHUBZE
    form = {
        "api_key": key,
        "service_code": "air-construction",
        "lat": str(lat),
        "long": str(lon),
        "description": "Dust from the building site by the river all day",
        "email": "someone@example.org",
        "first_name": "Tashi",
        "last_name": "Dolma",
        "phone": "13800000000",
    }
    form.update(fields)
    return form


async def count(app: Jingtu, model: Any) -> int:
    async with app.database.reader() as s:
        return int(await s.scalar(select(func.count()).select_from(model)) or 0)


def error_of(body: Any) -> tuple[int, str]:
    """The spec's JSON error: an array of one {code, description}."""
    assert isinstance(body, list) and len(body) == 1 and set(body[0]) == {"code", "description"}
    return body[0]["code"], body[0]["description"]


def xml_error_of(root: ET.Element) -> tuple[int, str]:
    assert root.tag == "errors"
    [error] = list(root)
    assert error.tag == "error" and {c.tag for c in error} == {"code", "description"}
    return int(error.findtext("code") or 0), error.findtext("description") or ""


# --- services -----------------------------------------------------------------------------------


async def test_services_list_every_category_with_its_group_in_json_and_xml(api: Api):
    status, services = await api.get_json("services.json", locale="en")
    assert status == 200
    assert [s["service_code"] for s in services] == [c.code for c in categories.CATEGORIES]
    for service in services:
        assert set(service) == SERVICE_FIELDS
        assert service["type"] == "realtime"
    dust = next(s for s in services if s["service_code"] == "air-construction")
    assert (dust["service_name"], dust["group"], dust["metadata"]) == (
        "Construction dust",
        "Air",
        True,
    )
    drinking = next(s for s in services if s["service_code"] == "water-drinking")
    assert drinking["metadata"] is False  # urgent by nature: nothing to ask

    status, root = await api.get_xml("services.xml")
    assert status == 200 and root.tag == "services"
    assert len(root) == len(categories.CATEGORIES)
    for element in root:
        assert element.tag == "service"
        assert {child.tag for child in element} == SERVICE_FIELDS
    first = root[0]
    assert first.findtext("service_code") == "air-dust"
    assert first.findtext("service_name") == "扬沙扬尘"  # the default locale, zh-Hans
    assert first.findtext("metadata") == "true"


async def test_a_service_definition_offers_the_emergency_attribute(api: Api):
    status, definition = await api.get_json("services/air-dust.json", locale="bo")
    assert status == 200
    assert definition["service_code"] == "air-dust"
    [attribute] = definition["attributes"]
    assert set(attribute) == ATTRIBUTE_FIELDS
    assert (attribute["code"], attribute["datatype"], attribute["required"]) == (
        "emergency",
        "singlevaluelist",
        False,
    )
    assert [v["key"] for v in attribute["values"]] == ["yes", "no"]
    assert "ཉེན་ཁ" in attribute["description"]  # Tibetan, as asked

    status, root = await api.get_xml("services/air-dust.xml")
    assert status == 200 and root.tag == "service_definition"
    attribute_xml = root.find("attributes/attribute")
    assert attribute_xml is not None
    assert {c.tag for c in attribute_xml} == ATTRIBUTE_FIELDS
    assert [v.findtext("key") for v in attribute_xml.findall("values/value")] == ["yes", "no"]


async def test_an_unknown_service_is_a_404_in_the_spec_error_format(api: Api):
    status, body = await api.get_json("services/no-such-thing.json", locale="en")
    assert status == 404
    assert error_of(body) == (
        404,
        'Unknown service_code "no-such-thing". GET services.json lists the codes.',
    )
    status, root = await api.get_xml("services/no-such-thing.xml")
    assert status == 404
    code, description = xml_error_of(root)
    assert code == 404 and "no-such-thing" in description


# --- posting a request --------------------------------------------------------------------------


async def test_a_posted_request_is_routed_as_a_chat_report_and_its_supervisor_is_told(
    app: Jingtu, api: Api, key: str
):
    console = ConsoleDriver(app, app.attach_console())
    await console.bind_supervisor("supervisor", VILLAGE_AT_SAMZHUBZE)
    before = len(console.received("supervisor"))

    status, body = await api.post_json(request_form(key, locale="en"))

    assert status == 200
    [filed] = body
    assert set(filed) == {"service_request_id", "token", "service_notice", "account_id"}
    assert filed["service_request_id"] == "2026-00001"
    assert "Samzhubzê T06 Village Grid 005" in filed["service_notice"]
    async with app.database.reader() as s:
        case = (await s.scalars(select(Case))).one()
        reporter = await s.get(Person, case.reporter_id)
        link = (await s.scalars(select(CaseReporter))).one()
    assert (case.number, case.status, case.cell_code, case.category) == (
        "2026-00001",
        "assigned",
        VILLAGE_AT_SAMZHUBZE,
        "air-construction",
    )
    assert case.anonymous and link.anonymous
    assert reporter is not None and reporter.channel == "open311"
    # Nothing that names the submitter is kept.
    assert (reporter.display_name, reporter.chat_id) == ("", "")
    assert "example.org" not in reporter.channel_user_id

    await console.deliver()
    card = "\n".join(seen.text for seen in console.received("supervisor")[before:])
    assert "2026-00001" in card
    for private in ("Tashi", "Dolma", "13800000000", "someone@example.org"):
        assert private not in card
    assert await count(app, OutboxMessage) >= 1

    status, [shown] = await api.get_json("requests/2026-00001.json", locale="en")
    assert status == 200 and set(shown) == REQUEST_FIELDS
    assert (shown["status"], shown["service_code"]) == ("open", "air-construction")
    assert "waiting for its supervisor" in shown["status_notes"]
    assert abs(shown["lat"] - SAMZHUBZE[0]) < 1e-6 and abs(shown["long"] - SAMZHUBZE[1]) < 1e-6
    assert shown["requested_datetime"] == "2026-11-30T10:00:00+08:00"
    assert shown["description"] is None  # residents' words only to key holders

    status, [token] = await api.get_json(f"tokens/{filed['token']}.json")
    assert status == 200 and token == {"service_request_id": "2026-00001", "token": filed["token"]}
    status, root = await api.get_xml(f"tokens/{filed['token']}.xml")
    assert root.findtext("request/service_request_id") == "2026-00001"


async def test_a_post_in_xml_answers_in_xml_and_a_second_at_the_same_place_joins_the_case(
    app: Jingtu, api: Api, key: str
):
    status, content_type, body = await api.post("requests.xml", request_form(key))
    assert (status, content_type) == (200, "text/xml")
    root = ET.fromstring(body)
    assert root.tag == "service_requests"
    assert root.findtext("request/service_request_id") == "2026-00001"
    assert root.findtext("request/token")

    again = request_form(key, account_id="resident-2", email="")
    status, [joined] = await api.post_json(again)
    assert status == 200 and joined["service_request_id"] == "2026-00001"
    assert await count(app, Case) == 1
    assert await count(app, CaseReporter) == 2


async def test_post_errors_are_refused_in_the_spec_format_and_change_nothing(
    app: Jingtu, api: Api, key: str
):
    cases: list[tuple[dict[str, str], int, str]] = [
        (request_form(""), 403, "api_key"),
        (request_form("not-a-key"), 403, "api_key"),
        (request_form(key, service_code="air-smog"), 400, "air-smog"),
        ({k: v for k, v in request_form(key).items() if k != "lat"}, 400, "lat and long"),
        (request_form(key, lat="nan"), 400, "lat and long"),
        (request_form(key, lat="91", long="88"), 400, "lat and long"),
        (request_form(key, lat=str(KATHMANDU[0]), long=str(KATHMANDU[1])), 400, "outside"),
        (request_form(key, description="dust"), 400, "5 to 2,000 characters"),
        (request_form(key, **{"attribute[emergency]": "maybe"}), 400, "attribute[emergency]"),
        (request_form(key, device_id="x" * 500), 400, "device_id"),
    ]
    for form, status, fragment in cases:
        got, body = await api.post_json({**form, "locale": "en"})
        code, description = error_of(body)
        assert (got, code) == (status, status), (form, body)
        assert fragment in description, (form, description)

    status, _, body = await api.post(
        "requests.xml", b"api_key=" + b"k" * 20_000, **{"Accept-Language": "en-GB"}
    )
    assert status == 413
    assert xml_error_of(ET.fromstring(body))[1].startswith("The request body is larger")

    status, _, body = await api.post(
        "requests.json", b"\xff\xfe\x00garbage", **{"Content-Type": "text/plain"}
    )
    assert status == 400 and error_of(json.loads(body))[0] == 400

    assert await count(app, Case) == 0
    assert await count(app, OutboxMessage) == 0


async def test_a_submitter_over_the_hourly_limit_gets_a_429(app: Jingtu, api: Api, key: str):
    codes = ["air-dust", "noise", "waste-kitchen", "other"]
    statuses = []
    for code in codes:
        status, _ = await api.post_json(request_form(key, service_code=code, account_id="a1"))
        statuses.append(status)
    assert statuses == [200, 200, 200, 429]  # report_rate_per_hour=3 in this module
    # Another submitter of the same partner is not held back by the first.
    status, _ = await api.post_json(request_form(key, service_code="other", account_id="a2"))
    assert status == 200


async def test_a_revoked_key_is_refused(app: Jingtu, api: Api, key: str, clock: FakeClock):
    await open311.revoke_key(app.database, "city-app", now=clock())
    status, body = await api.post_json(request_form(key))
    assert status == 403 and error_of(body)[0] == 403


# --- reading requests ---------------------------------------------------------------------------


async def test_requests_are_filtered_as_the_spec_says(
    app: Jingtu, api: Api, key: str, clock: FakeClock
):
    await api.post_json(request_form(key, service_code="air-dust", account_id="a"))
    clock.advance(days=2)
    await api.post_json(request_form(key, service_code="noise", account_id="b"))

    status, all_open = await api.get_json("requests.json", status="open")
    assert status == 200
    assert [r["service_request_id"] for r in all_open] == ["2026-00002", "2026-00001"]
    for request in all_open:
        assert set(request) == REQUEST_FIELDS
    assert (await api.get_json("requests.json", status="closed"))[1] == []
    noise = (await api.get_json("requests.json", service_code="noise"))[1]
    assert [r["service_request_id"] for r in noise] == ["2026-00002"]
    early = (
        await api.get_json(
            "requests.json",
            start_date="2026-11-29T00:00:00+08:00",
            end_date="2026-12-01T00:00:00+08:00",
        )
    )[1]
    assert [r["service_request_id"] for r in early] == ["2026-00001"]
    # A list of ids overrides the other filters.
    listed = (
        await api.get_json(
            "requests.json", service_request_id="2026-00001,2026-00002", status="closed"
        )
    )[1]
    assert len(listed) == 2

    status, root = await api.get_xml("requests.xml")
    assert status == 200 and root.tag == "service_requests"
    assert [r.findtext("service_request_id") for r in root] == ["2026-00002", "2026-00001"]
    for element in root:
        assert {c.tag for c in element} == REQUEST_FIELDS

    with_key = (await api.get_json("requests.json", api_key=key))[1]
    assert with_key[0]["description"] == "Dust from the building site by the river all day"


async def test_bad_filters_and_unknown_ids_are_spec_errors(api: Api, key: str):
    refusals = [
        ({"start_date": "yesterday"}, 400, "W3C"),
        ({"start_date": "2026-11-01T00:00:00"}, 400, "W3C"),  # no zone
        (
            {"start_date": "2026-01-01T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            400,
            "90 days",
        ),
        (
            {"start_date": "2026-11-02T00:00:00Z", "end_date": "2026-11-01T00:00:00Z"},
            400,
            "earlier",
        ),
        ({"status": "pending"}, 400, "open, closed"),
        ({"service_code": "air-dust,smog"}, 400, "smog"),
        ({"api_key": "wrong"}, 403, "api_key"),
    ]
    for params, status, fragment in refusals:
        got, body = await api.get_json("requests.json", locale="en", **params)
        code, description = error_of(body)
        assert (got, code) == (status, status), params
        assert fragment in description, (params, description)

    status, body = await api.get_json("requests/2026-99999.json", locale="en")
    assert status == 404 and "2026-99999" in error_of(body)[1]
    status, root = await api.get_xml("tokens/nope.xml")
    assert status == 404 and xml_error_of(root)[0] == 404
