"""The resident's conversations: welcome, language, the report dialog, their cases."""

from __future__ import annotations

from typing import Any

from bot.domain import categories
from bot.domain.access import Verb
from bot.domain.geo import Datum, InvalidCoordinate
from bot.domain.grid import Level
from bot.services import case_access, notices, reports
from bot.services.conversation import Turn
from bot.services.reports import MAX_DESCRIPTION, MAX_PHOTOS, MIN_DESCRIPTION, ReportRefused
from handlers.common import LANGUAGE_BUTTONS, clean_text, parse_typed_location
from handlers.contract import Button, Inbound, Location, Reply
from messages import LOCALES

FLOW = "report"
HOTLINE = "12369"


# --- commands -----------------------------------------------------------------------------------


async def cmd_start(turn: Turn, inbound: Inbound) -> None:
    turn.reply(Reply(turn.t("welcome"), buttons=LANGUAGE_BUTTONS))


async def cmd_help(turn: Turn, inbound: Inbound) -> None:
    turn.reply(turn.t("help"))


async def cmd_language(turn: Turn, inbound: Inbound) -> None:
    turn.reply(Reply(turn.t("language-choose"), buttons=LANGUAGE_BUTTONS))


async def cmd_cancel(turn: Turn, inbound: Inbound) -> None:
    had_dialog = turn.dialog.active
    turn.dialog.clear()
    turn.reply(
        Reply(turn.t("cancelled" if had_dialog else "nothing-to-cancel"), remove_keyboard=True)
    )


async def on_language(turn: Turn, inbound: Inbound) -> None:
    code = (inbound.callback or "").removeprefix("lang:")
    if code not in LOCALES:
        turn.reply(turn.t("button-stale"))
        return
    turn.person.locale = code
    turn.reply(turn.t("language-set"))


async def cmd_report(turn: Turn, inbound: Inbound) -> None:
    try:
        await reports.check_rate_limit(turn)
    except ReportRefused as refused:
        turn.reply(turn.t(refused.key, **refused.args_for_message))
        return
    turn.dialog.start(FLOW, "category", photos=[], anonymous=True, emergency=False)
    ask_category_group(turn)


async def cmd_mycases(turn: Turn, inbound: Inbound) -> None:
    cases = await reports.cases_of_reporter(turn.session, turn.person.id)
    if not cases:
        turn.reply(turn.t("mycases-empty"))
        return
    t = turn.t
    lines = [
        t(
            "mycases-line",
            number=c.number,
            category=t(f"category-{c.category}"),
            status=t(f"status-{c.status}"),
            date=notices.local_time(c.created_at, turn.settings.timezone)[:10],
        )
        for c in cases
    ]
    turn.reply(t("mycases-title") + "\n" + "\n".join(lines) + "\n\n" + t("mycases-hint"))


def case_number(raw: str) -> str:
    return raw.strip()[:20]


async def cmd_case(turn: Turn, inbound: Inbound) -> None:
    """A reporter's view of a case they reported; any other number is "not found", recorded."""
    number = case_number(inbound.command_args)
    if not number:
        turn.reply(turn.t("case-usage"))
        return
    case = await case_access.case_by_number_for(
        turn.session, turn.grid, turn.person, number, Verb.VIEW_AS_REPORTER, now=turn.now
    )
    if case is None:
        turn.reply(turn.t("case-not-found", number=number))
        return
    show_case(turn, case)


def show_case(turn: Turn, case: Any) -> None:
    t = turn.t
    turn.reply(
        t(
            "case-detail",
            number=case.number,
            category=t(f"category-{case.category}"),
            status=t(f"status-{case.status}"),
            cell=notices.cell_name(turn.grid, case.origin_cell_code, turn.locale),
            responsible=notices.cell_name(turn.grid, case.cell_code, turn.locale),
            description=case.description,
            reporters=case.reporter_count,
            created=notices.local_time(case.created_at, turn.settings.timezone),
        )
    )


# --- the report dialog --------------------------------------------------------------------------
# Its questions go out as prompts (`turn.prompt`), sent without an outbox row: should the process
# die before one is sent, the dialog's state is stored all the same, so nothing the person entered
# is lost and their next message carries on from that step. The case number at the end is an
# ordinary reply, through the outbox.


def ask_category_group(turn: Turn) -> None:
    turn.dialog.step = "category"
    t = turn.t
    rows = [
        tuple(Button(t(f"group-{g}"), f"r:g:{g}") for g in categories.GROUPS[i : i + 2])
        for i in range(0, len(categories.GROUPS), 2)
    ]
    rows.append((Button(t("button-cancel"), "r:x"),))
    turn.reply(Reply(t("report-ask-category"), buttons=tuple(rows)))


def ask_category_in_group(turn: Turn, group: str) -> None:
    t = turn.t
    rows = [(Button(t(c.message_key), f"r:c:{c.code}"),) for c in categories.in_group(group)]
    rows.append((Button(t("button-back"), "r:back"),))
    turn.reply(
        Reply(t("report-ask-category-in-group", group=t(f"group-{group}")), buttons=tuple(rows))
    )


def ask_description(turn: Turn) -> None:
    turn.dialog.step = "description"
    turn.reply(turn.t("report-ask-description", min=MIN_DESCRIPTION, max=MAX_DESCRIPTION))


def ask_photos(turn: Turn) -> None:
    turn.dialog.step = "photos"
    count = len(turn.dialog.data.get("photos", []))
    label = turn.t("button-photos-done" if count else "button-skip")
    turn.reply(
        Reply(
            turn.t("report-ask-photos", max=MAX_PHOTOS, count=count),
            buttons=((Button(label, "r:ph:done"),),),
        )
    )


def ask_location(turn: Turn) -> None:
    turn.dialog.step = "location"
    t = turn.t
    turn.reply(
        Reply(
            t("report-ask-location"),
            buttons=((Button(t("button-pick-location"), "r:loc:pick"),),),
            request_location=t("button-share-location"),
        )
    )


def ask_pick(turn: Turn, parent: str | None) -> None:
    """County → township → village buttons for someone who cannot share GPS."""
    turn.dialog.step = "pick"
    grid = turn.grid
    if parent is None:
        cities = grid.at_level(Level.CITY)
        options = grid.children(cities[0].code) if cities else grid.at_level(Level.COUNTY)
    else:
        options = grid.children(parent)
    turn.dialog.data["pick_parent"] = parent
    locale = turn.locale
    buttons = [Button(ref.names.for_locale(locale), f"r:pk:{ref.code}") for ref in options]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(turn.t("button-back"), "r:pk:up"),))
    level_key = "county" if parent is None else (options[0].level.value if options else "village")
    turn.reply(
        Reply(turn.t("report-pick", level=level_key), buttons=tuple(rows), remove_keyboard=True)
    )


def ask_anonymity(turn: Turn) -> None:
    turn.dialog.step = "anonymity"
    t = turn.t
    turn.reply(
        Reply(
            t("report-ask-anonymity"),
            buttons=(
                (Button(t("button-anonymous"), "r:anon:1"),),
                (Button(t("button-show-name"), "r:anon:0"),),
            ),
            remove_keyboard=True,
        )
    )


def show_summary(turn: Turn) -> None:
    turn.dialog.step = "summary"
    data = turn.dialog.data
    t = turn.t
    cell = turn.grid.cells.get(str(data.get("cell")))
    chain = turn.grid.chain_of(cell.code) if cell else ()
    place = " · ".join(c.names.for_locale(turn.locale) for c in chain if c.level != Level.CITY)
    turn.reply(
        Reply(
            t(
                "report-summary",
                category=t(f"category-{data['category']}"),
                description=data["description"],
                photos=len(data.get("photos", [])),
                place=place,
                anonymous="yes" if data.get("anonymous", True) else "no",
                emergency="yes" if data.get("emergency") else "no",
            ),
            buttons=(
                (Button(t("button-confirm"), "r:ok"),),
                (Button(t("button-edit"), "r:edit"), Button(t("button-cancel"), "r:x")),
                (
                    Button(
                        t(
                            "button-unmark-emergency"
                            if data.get("emergency")
                            else "button-emergency"
                        ),
                        "r:urg",
                    ),
                ),
            ),
        )
    )


def _next_step(turn: Turn, after: str) -> None:
    """Go on to the step after `after`, or back to the summary when editing."""
    if turn.dialog.data.get("editing"):
        turn.dialog.data.pop("editing", None)
        show_summary(turn)
        return
    {
        "category": ask_description,
        "description": ask_photos,
        "photos": ask_location,
        "location": ask_anonymity,
        "anonymity": show_summary,
    }[after](turn)


async def report_step(turn: Turn, inbound: Inbound) -> None:
    """Any input while the report dialog is open."""
    step = turn.dialog.step
    data = turn.dialog.data
    t = turn.t
    callback = inbound.callback

    if callback == "r:x":
        turn.dialog.clear()
        turn.reply(Reply(t("report-cancelled"), remove_keyboard=True))
        return

    if step == "category":
        if callback and callback.startswith("r:g:") and callback[4:] in categories.GROUPS:
            ask_category_in_group(turn, callback[4:])
        elif callback == "r:back":
            ask_category_group(turn)
        elif callback and callback.startswith("r:c:") and categories.get(callback[4:]):
            data["category"] = callback[4:]
            _next_step(turn, "category")
        else:
            turn.reply(t("report-use-buttons"))
        return

    if step == "description":
        text = clean_text(inbound.text)
        if callback or inbound.location or inbound.photo or not text:
            turn.reply(t("report-description-needed", min=MIN_DESCRIPTION, max=MAX_DESCRIPTION))
        elif len(text) < MIN_DESCRIPTION:
            turn.reply(t("report-description-short", min=MIN_DESCRIPTION))
        elif len(text) > MAX_DESCRIPTION:
            turn.reply(t("report-description-long", max=MAX_DESCRIPTION, length=len(text)))
        else:
            data["description"] = text
            _next_step(turn, "description")
        return

    if step == "photos":
        photos: list[str] = data.setdefault("photos", [])
        if inbound.photo:
            if len(photos) >= MAX_PHOTOS:
                turn.reply(t("report-photos-full", max=MAX_PHOTOS))
                return
            photos.append(inbound.photo[:256])
            if len(photos) >= MAX_PHOTOS:
                _next_step(turn, "photos")
            else:
                ask_photos(turn)
        elif callback == "r:ph:done":
            _next_step(turn, "photos")
        else:
            turn.reply(
                Reply(
                    t("report-photos-expected", max=MAX_PHOTOS),
                    buttons=((Button(t("button-skip"), "r:ph:done"),),),
                )
            )
        return

    if step in {"location", "pick"}:
        location = inbound.location or parse_typed_location(inbound.text)
        if location is not None:
            await _take_location(turn, location)
        elif callback == "r:loc:pick":
            ask_pick(turn, None)
        elif step == "pick" and callback and callback.startswith("r:pk:"):
            _take_pick(turn, callback[5:])
        else:
            ask_location(turn) if step == "location" else turn.reply(t("report-use-buttons"))
        return

    if step == "anonymity":
        if callback in {"r:anon:1", "r:anon:0"}:
            data["anonymous"] = callback == "r:anon:1"
            _next_step(turn, "anonymity")
        else:
            turn.reply(t("report-use-buttons"))
        return

    if step == "summary":
        if callback == "r:ok":
            await _confirm(turn)
        elif callback == "r:urg":
            data["emergency"] = not data.get("emergency", False)
            show_summary(turn)
        elif callback == "r:edit":
            _ask_edit(turn)
        else:
            turn.reply(t("report-use-buttons"))
        return

    if step == "edit":
        field = (callback or "").removeprefix("r:e:")
        data["editing"] = True
        if field == "category":
            ask_category_group(turn)
        elif field == "description":
            ask_description(turn)
        elif field == "photos":
            data["photos"] = []
            ask_photos(turn)
        elif field == "location":
            ask_location(turn)
        elif field == "anonymity":
            ask_anonymity(turn)
        else:
            data.pop("editing", None)
            turn.reply(t("report-use-buttons"))
        return

    # An unknown step (a draft from an older version): start over rather than guess.
    turn.dialog.clear()
    turn.reply(t("report-restart"))


def _ask_edit(turn: Turn) -> None:
    turn.dialog.step = "edit"
    t = turn.t
    fields = ("category", "description", "photos", "location", "anonymity")
    rows = tuple((Button(t(f"edit-{f}"), f"r:e:{f}"),) for f in fields)
    turn.reply(Reply(t("report-edit-which"), buttons=rows))


async def _take_location(turn: Turn, location: Location) -> None:
    t = turn.t
    try:
        datum = Datum(location.datum)
        result = turn.grid.route(location.lat, location.lon, datum=datum)
    except (InvalidCoordinate, ValueError):
        turn.reply(t("report-location-invalid"))
        return
    if not result.inside or result.cell is None:
        county = next((c for c in result.nearest_chain if c.level == Level.COUNTY), None)
        nearest = county or result.nearest
        turn.reply(
            Reply(
                t(
                    "report-location-outside",
                    nearest=nearest.names.for_locale(turn.locale) if nearest else "—",
                    distance=round((result.nearest_distance_m or 0) / 1000, 1),
                    hotline=HOTLINE,
                ),
                buttons=((Button(t("button-pick-location"), "r:loc:pick"),),),
                request_location=t("button-share-location"),
            )
        )
        turn.dialog.step = "location"
        return
    data = turn.dialog.data
    data["lat"], data["lon"] = result.point.lat, result.point.lon
    data["cell"] = result.cell.code
    data["location_source"] = "gps"
    _next_step(turn, "location")


def _take_pick(turn: Turn, choice: str) -> None:
    grid = turn.grid
    data = turn.dialog.data
    parent = data.get("pick_parent")
    if choice == "up":
        if parent is None:
            ask_location(turn)
        else:
            ref = grid.cells.get(parent)
            up = ref.parent_code if ref else None
            up_ref = grid.cells.get(up) if up else None
            ask_pick(turn, None if up_ref is None or up_ref.level == Level.CITY else up)
        return
    ref = grid.cells.get(choice)
    # Only a child of what was offered may be chosen: a forged or stale button changes nothing.
    valid_parents = {parent} if parent else {c.code for c in grid.at_level(Level.CITY)} | {None}
    if ref is None or ref.parent_code not in valid_parents:
        turn.reply(turn.t("button-stale"))
        return
    if grid.children(ref.code):
        ask_pick(turn, ref.code)
        return
    point = grid.representative_point(ref.code)
    data["lat"], data["lon"] = point.lat, point.lon
    data["cell"] = ref.code
    data["location_source"] = "picker"
    data.pop("pick_parent", None)
    _next_step(turn, "location")


async def _confirm(turn: Turn) -> None:
    t = turn.t
    try:
        draft = reports.ReportDraft.from_dialog(turn.dialog.data)
        result = await reports.submit_report(turn, draft)
    except ReportRefused as refused:
        if refused.key == "report-invalid-draft":
            turn.dialog.clear()
        turn.reply(t(refused.key, **refused.args_for_message))
        return
    except (KeyError, TypeError, ValueError):
        turn.dialog.clear()
        turn.reply(t("report-invalid-draft"))
        return
    turn.dialog.clear()
    cell = result.responsible.names.for_locale(turn.locale)
    if result.own:
        text = t("report-own-case", number=result.case.number)
    elif result.joined:
        text = t("report-joined", number=result.case.number, reporters=result.case.reporter_count)
    else:
        text = t("report-saved", number=result.case.number, cell=cell)
    if result.urgent:
        text += "\n\n" + t("report-urgent-hotline", hotline=HOTLINE)
    turn.reply(Reply(text, remove_keyboard=True))
