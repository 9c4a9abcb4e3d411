"""The resident's conversations: welcome, language, the report dialog, their cases."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from bot.domain import categories
from bot.domain.access import Verb
from bot.domain.cases import format_case_number
from bot.domain.geo import Datum, InvalidCoordinate
from bot.domain.grid import Level
from bot.services import case_access, notices, reports
from bot.services.conversation import Turn
from bot.services.reports import MAX_DESCRIPTION, MAX_PHOTOS, MIN_DESCRIPTION, ReportRefused
from handlers.common import LANGUAGE_BUTTONS, ascii_digits, clean_text, parse_typed_location
from handlers.contract import Button, Inbound, Location, Reply
from messages import LOCALES

FLOW = "report"
HOTLINE = "12369"
NOT_AN_ANSWER = "not-an-answer"

# Words that start a report outside a dialog, in every language whatever the person's own:
# Chinese, English (any case) and Tibetan སྙན་ཞུ ("petition, complaint") or སྙན་སྐུལ ("report",
# the word the Tibetan catalog uses), as /report does.
REPORT_KEYWORDS = frozenset({"举报", "report", "སྙན་ཞུ", "སྙན་སྐུལ"})
# Closing punctuation a keyword may carry: ASCII and full-width marks, the Tibetan tsheg and shad.
_KEYWORD_TRAILER = " \t!！.。?？་།"


def is_report_keyword(text: str | None) -> bool:
    """Whether a message is one of the report keywords (a spoken one too: its recognition)."""
    if not text:
        return False
    return text.strip().rstrip(_KEYWORD_TRAILER).casefold() in REPORT_KEYWORDS


# --- commands -----------------------------------------------------------------------------------


async def cmd_start(turn: Turn, inbound: Inbound) -> None:
    turn.reply(Reply(turn.t("welcome"), buttons=LANGUAGE_BUTTONS))


async def cmd_help(turn: Turn, inbound: Inbound) -> None:
    turn.reply(turn.t("help"))


async def cmd_language(turn: Turn, inbound: Inbound) -> None:
    if _ask_before_discarding(turn, "language"):
        return
    turn.reply(Reply(turn.t("language-choose"), buttons=LANGUAGE_BUTTONS))


def _ask_before_discarding(turn: Turn, command: str) -> bool:
    """Mid-report, a command that would throw the draft away asks first; True when it asked."""
    if turn.dialog.flow != FLOW:
        return False
    turn.dialog.data["discard_for"] = command
    t = turn.t
    turn.reply(
        Reply(
            t("report-discard-ask", command=command),
            buttons=(
                (Button(t("button-discard-yes"), "r:dx:y"),),
                (Button(t("button-discard-no"), "r:dx:n"),),
            ),
        )
    )
    return True


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
    if _ask_before_discarding(turn, "report"):
        return
    await _start_report(turn)


async def _start_report(turn: Turn) -> None:
    try:
        await reports.check_rate_limit(turn)
    except ReportRefused as refused:
        _refuse(turn, refused)
        return
    turn.dialog.start(FLOW, "category", photos=[], anonymous=True, emergency=False)
    ask_category_group(turn)


def _refuse(turn: Turn, refused: ReportRefused) -> None:
    args = {
        name: notices.local_time(value, turn.settings.timezone, clock_only=True)
        if isinstance(value, datetime)
        else value
        for name, value in refused.args_for_message.items()
    }
    turn.reply(turn.t(refused.key, **args))


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


_SHORT_NUMBER = re.compile(r"(?:([0-9]{4})-)?0*([0-9]{1,5})")


def case_number(turn: Turn, raw: str) -> str:
    """What /case was given, as a case number: `1` is this year's 2026-00001 (the year in the
    bureau's time zone), `2025-7` is 2025-00007; anything else is looked up as typed."""
    typed = raw.strip()[:20]
    match = _SHORT_NUMBER.fullmatch(ascii_digits(typed))
    if match is None or int(match.group(2)) == 0:
        return typed
    year = int(match.group(1)) if match.group(1) else turn.now.astimezone(turn.settings.tz).year
    return format_case_number(year, int(match.group(2)))


async def cmd_case(turn: Turn, inbound: Inbound) -> None:
    """A reporter's view of a case they reported; any other number is "not found", recorded."""
    number = case_number(turn, inbound.command_args)
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

    # The answer to "discard the draft?" (asked by /report or /language mid-report); anything
    # else withdraws that question and carries on with the report.
    discard_for = data.pop("discard_for", None)
    if callback in {"r:dx:y", "r:dx:n"}:
        if discard_for is None:
            turn.reply(t("button-stale"))
        elif callback == "r:dx:n":
            reask(turn)
        else:
            turn.dialog.clear()
            if discard_for == "language":
                turn.reply(Reply(t("language-choose"), buttons=LANGUAGE_BUTTONS))
            else:
                await _start_report(turn)
        return

    photos: list[str] = data.setdefault("photos", [])
    if inbound.photo and step not in {"photos", "description"} and len(photos) >= MAX_PHOTOS:
        # A fourth photo (an album of four arrives as four messages): say so, then go on.
        turn.reply(t("report-photos-full", max=MAX_PHOTOS))
        reask(turn)
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
            reask(turn, note=NOT_AN_ANSWER)
        return

    if step == "description":
        text = clean_text(inbound.text)
        if inbound.voice and not text:
            turn.reply(t("report-voice-not-recognised", min=MIN_DESCRIPTION))
        elif callback or inbound.location or inbound.photo or not text:
            turn.reply(t("report-description-needed", min=MIN_DESCRIPTION, max=MAX_DESCRIPTION))
        elif len(text) < MIN_DESCRIPTION:
            turn.reply(t("report-description-short", min=MIN_DESCRIPTION))
        elif len(text) > MAX_DESCRIPTION:
            turn.reply(t("report-description-long", max=MAX_DESCRIPTION, length=len(text)))
        else:
            data["description"] = text
            # A spoken description: its recognition is the text, and the recording is kept.
            if inbound.voice:
                data["voice"] = inbound.voice[:256]
            else:
                data.pop("voice", None)
            _next_step(turn, "description")
        return

    if step == "photos":
        if inbound.photo:
            if len(photos) >= MAX_PHOTOS:
                turn.reply(t("report-photos-full", max=MAX_PHOTOS))
                _next_step(turn, "photos")
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
        typed = parse_typed_location(inbound.text, turn.channel)
        swapped = data.pop("swapped", None)
        if inbound.location is not None:
            await _take_location(turn, inbound.location)
        elif typed is not None:
            await _take_location(turn, typed, typed=True)
        elif callback == "r:loc:swap" and isinstance(swapped, list) and len(swapped) == 3:
            await _take_location(turn, Location(float(swapped[0]), float(swapped[1]), swapped[2]))
        elif callback == "r:loc:pick":
            ask_pick(turn, None)
        elif step == "pick" and callback and callback.startswith("r:pk:"):
            _take_pick(turn, callback[5:])
        else:
            reask(turn, note=NOT_AN_ANSWER if step == "pick" else None)
        return

    if step == "anonymity":
        if callback in {"r:anon:1", "r:anon:0"}:
            data["anonymous"] = callback == "r:anon:1"
            _next_step(turn, "anonymity")
        else:
            reask(turn, note=NOT_AN_ANSWER)
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
            reask(turn, note=NOT_AN_ANSWER)
        return

    if step == "edit":
        field = (callback or "").removeprefix("r:e:")
        if field not in _EDIT_FIELDS:
            reask(turn, note=NOT_AN_ANSWER)
            return
        data["editing"] = True
        if field == "photos":
            data["photos"] = []
        _ASK[field](turn)
        return

    # An unknown step (a draft from an older version): start over rather than guess.
    turn.dialog.clear()
    turn.reply(t("report-restart"))


def reask(turn: Turn, *, note: str | None = None) -> None:
    """Ask the pending question again, with its buttons, after `note` (a message key) says why:
    after a restart, or when a message does not answer it, the buttons it offered may be long
    gone from the screen, so "tap the buttons above" would point at nothing."""
    step = turn.dialog.step
    if note is not None and (step == "pick" or step in _ASK):
        turn.reply(turn.t(note))
    if step == "pick":
        parent = turn.dialog.data.get("pick_parent")
        ask_pick(turn, parent if isinstance(parent, str) and parent in turn.grid.cells else None)
    elif step in _ASK:
        _ASK[step](turn)
    else:
        turn.dialog.clear()
        turn.reply(turn.t("report-restart"))


_EDIT_FIELDS = ("category", "description", "photos", "location", "anonymity")


def _ask_edit(turn: Turn) -> None:
    turn.dialog.step = "edit"
    t = turn.t
    rows = tuple((Button(t(f"edit-{f}"), f"r:e:{f}"),) for f in _EDIT_FIELDS)
    turn.reply(Reply(t("report-edit-which"), buttons=rows))


_ASK = {
    "category": ask_category_group,
    "description": ask_description,
    "photos": ask_photos,
    "location": ask_location,
    "anonymity": ask_anonymity,
    "summary": show_summary,
    "edit": _ask_edit,
}


def _format_coordinate(value: float) -> str:
    return f"{value:.6f}".rstrip("0").rstrip(".")


async def _take_location(turn: Turn, location: Location, *, typed: bool = False) -> None:
    """Place the report at a shared or typed point; a point outside the grid is answered with
    the picker (and, for typed coordinates whose swap lies inside, the swap to confirm)."""
    t = turn.t
    grid = turn.grid
    datum = Datum(location.datum)
    try:
        result = grid.route(location.lat, location.lon, datum=datum)
    except (InvalidCoordinate, ValueError):
        result = None  # not a point on Earth: answered like one outside the grid
    if result is not None and result.inside and result.cell is not None:
        data = turn.dialog.data
        data["lat"], data["lon"] = result.point.lat, result.point.lon
        data["cell"] = result.cell.code
        data["location_source"] = "gps"
        _next_step(turn, "location")
        return
    turn.dialog.step = "location"
    if typed and _inside(turn, location.lon, location.lat, datum):
        # Longitude first, as some map apps copy it: offer the swap rather than a dead end.
        turn.dialog.data["swapped"] = [location.lon, location.lat, datum.value]
        turn.reply(
            Reply(
                t(
                    "report-location-swapped",
                    lat=_format_coordinate(location.lon),
                    lon=_format_coordinate(location.lat),
                ),
                buttons=(
                    (Button(t("button-use-swapped"), "r:loc:swap"),),
                    (Button(t("button-pick-location"), "r:loc:pick"),),
                ),
                request_location=t("button-share-location"),
            )
        )
        return
    if result is None:
        text = t("report-location-invalid")
    else:
        county = next((c for c in result.nearest_chain if c.level == Level.COUNTY), None)
        nearest = county or result.nearest
        text = t(
            "report-location-outside",
            nearest=nearest.names.for_locale(turn.locale) if nearest else "—",
            distance=round((result.nearest_distance_m or 0) / 1000, 1),
            hotline=HOTLINE,
        )
    turn.reply(
        Reply(
            text,
            buttons=((Button(t("button-pick-location"), "r:loc:pick"),),),
            request_location=t("button-share-location"),
        )
    )


def _inside(turn: Turn, lat: float, lon: float, datum: Datum) -> bool:
    try:
        result = turn.grid.route(lat, lon, datum=datum)
    except (InvalidCoordinate, ValueError):
        return False
    return result.inside and result.cell is not None


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
