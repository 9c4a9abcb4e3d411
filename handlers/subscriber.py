"""The subscriber's conversations: /subscribe, /unsubscribe and /settings.

/subscribe walks topics → area (location or county → township picker) → language, then saves.
/settings shows the subscription and reuses one step of the same dialog to change it.
"""

from __future__ import annotations

from bot.domain.geo import Datum, InvalidCoordinate
from bot.domain.grid import CellRef, Level
from bot.domain.outreach import TOPICS, QuietHours
from bot.services import subscriptions
from bot.services.conversation import Turn
from handlers.common import parse_typed_location
from handlers.contract import Button, Inbound, Location, Reply
from messages import LOCALES

FLOW = "subscribe"
LANGUAGE_LABELS = {"zh-Hans": "中文", "bo": "བོད་ཡིག", "en": "English"}


# --- commands -----------------------------------------------------------------------------------


async def cmd_subscribe(turn: Turn, inbound: Inbound) -> None:
    current = await subscriptions.subscriptions_of(turn.session, turn.person.id)
    area = current[0].area_cell_code if current else None
    turn.dialog.start(FLOW, "topics", topics=[s.topic for s in current], area=area, edit=False)
    ask_topics(turn)


async def cmd_settings(turn: Turn, inbound: Inbound) -> None:
    await show_settings(turn)


async def cmd_unsubscribe(turn: Turn, inbound: Inbound) -> None:
    current = await subscriptions.subscriptions_of(turn.session, turn.person.id)
    if not current:
        turn.reply(turn.t("unsub-none"))
        return
    if inbound.command_args.strip().lower() in {"all", "全部"}:
        await subscriptions.unsubscribe(turn.session, turn.person.id)
        turn.reply(turn.t("unsub-done-all"))
        return
    t = turn.t
    rows = [(Button(t(f"topic-{s.topic}"), f"uns:t:{s.topic}"),) for s in current]
    rows.append((Button(t("button-unsubscribe-all"), "uns:all"),))
    turn.reply(Reply(t("unsub-choose"), buttons=tuple(rows)))


async def on_unsubscribe(turn: Turn, inbound: Inbound) -> None:
    choice = (inbound.callback or "").removeprefix("uns:")
    t = turn.t
    if choice == "all":
        await subscriptions.unsubscribe(turn.session, turn.person.id)
        turn.reply(t("unsub-done-all"))
        return
    topic = choice.removeprefix("t:")
    if not choice.startswith("t:") or topic not in TOPICS:
        turn.reply(t("button-stale"))
        return
    if not await subscriptions.unsubscribe(turn.session, turn.person.id, topic):
        turn.reply(t("button-stale"))
        return
    left = await subscriptions.subscriptions_of(turn.session, turn.person.id)
    if left:
        turn.reply(t("unsub-done-topic", topic=t(f"topic-{topic}")))
    else:
        turn.reply(t("unsub-done-all"))


# --- showing --------------------------------------------------------------------------------------


def area_name(turn: Turn, code: str | None) -> str:
    ref = turn.grid.cells.get(code) if code else None
    if ref is None:
        return turn.t("sub-whole-city")
    chain = turn.grid.chain_of(ref.code)
    return " · ".join(
        c.names.for_locale(turn.locale) for c in reversed(chain) if c.level != Level.CITY
    )


async def show_settings(turn: Turn) -> None:
    t = turn.t
    current = await subscriptions.subscriptions_of(turn.session, turn.person.id)
    if not current:
        turn.reply(t("settings-none"))
        return
    quiet = turn.settings.quiet_hours
    turn.reply(
        Reply(
            t(
                "settings-show",
                topics=t.join([t(f"topic-{s.topic}") for s in current]),
                area=area_name(turn, current[0].area_cell_code),
                language=LANGUAGE_LABELS.get(turn.locale, turn.locale),
                quiet=t("quiet-off") if QuietHours.parse(quiet).start is None else quiet,
            ),
            buttons=(
                (Button(t("button-change-topics"), "sub:e:topics"),),
                (Button(t("button-change-area"), "sub:e:area"),),
                (Button(t("button-change-language"), "sub:e:lang"),),
            ),
        )
    )


def ask_topics(turn: Turn) -> None:
    turn.dialog.step = "topics"
    t = turn.t
    chosen = set(turn.dialog.data.get("topics", []))
    rows: list[tuple[Button, ...]] = [
        (Button(("✅ " if topic in chosen else "⬜ ") + t(f"topic-{topic}"), f"sub:t:{topic}"),)
        for topic in TOPICS
    ]
    rows.append((Button(t("button-done"), "sub:ok"), Button(t("button-cancel"), "sub:x")))
    turn.reply(Reply(t("sub-choose-topics"), buttons=tuple(rows)))


def ask_area(turn: Turn) -> None:
    turn.dialog.step = "area"
    t = turn.t
    turn.reply(
        Reply(
            t("sub-ask-area"),
            buttons=(
                (Button(t("button-pick-from-list"), "sub:pk"),),
                (Button(t("sub-whole-city"), "sub:a:all"),),
                (Button(t("button-cancel"), "sub:x"),),
            ),
            request_location=t("sub-button-share-location"),
        )
    )


def _counties(turn: Turn) -> list[CellRef]:
    grid = turn.grid
    cities = grid.at_level(Level.CITY)
    return grid.children(cities[0].code) if cities else grid.at_level(Level.COUNTY)


def ask_county(turn: Turn) -> None:
    turn.dialog.step = "pick"
    locale = turn.locale
    buttons = [Button(c.names.for_locale(locale), f"sub:pk:{c.code}") for c in _counties(turn)]
    rows = [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(turn.t("button-back"), "sub:pk:up"),))
    turn.reply(Reply(turn.t("sub-pick-county"), buttons=tuple(rows), remove_keyboard=True))


def ask_township(turn: Turn, county: CellRef) -> None:
    turn.dialog.step = "pick"
    locale = turn.locale
    name = county.names.for_locale(locale)
    buttons = [
        Button(c.names.for_locale(locale), f"sub:a:{c.code}")
        for c in turn.grid.children(county.code)
    ]
    rows: list[tuple[Button, ...]] = [
        (Button(turn.t("button-whole-county", county=name), f"sub:a:{county.code}"),)
    ]
    rows += [tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2)]
    rows.append((Button(turn.t("button-back"), "sub:pk"),))
    turn.reply(Reply(turn.t("sub-pick-township", county=name), buttons=tuple(rows)))


def ask_language(turn: Turn) -> None:
    turn.dialog.step = "language"
    buttons = tuple(Button(LANGUAGE_LABELS[code], f"sub:l:{code}") for code in LOCALES)
    turn.reply(Reply(turn.t("sub-ask-language"), buttons=(buttons,)))


# --- the dialog -----------------------------------------------------------------------------------


def reask(turn: Turn) -> None:
    """Say the message was no answer and ask the pending question again, with its buttons (after
    a restart the buttons it offered may be gone from the screen)."""
    ask = {"topics": ask_topics, "area": ask_area, "pick": ask_county, "language": ask_language}
    turn.reply(turn.t("not-an-answer"))
    ask[turn.dialog.step](turn)


async def on_edit(turn: Turn, what: str) -> None:
    current = await subscriptions.subscriptions_of(turn.session, turn.person.id)
    if not current:
        turn.reply(turn.t("settings-none"))
        return
    turn.dialog.start(
        FLOW,
        "topics",
        topics=[s.topic for s in current],
        area=current[0].area_cell_code,
        edit=True,
    )
    if what == "topics":
        ask_topics(turn)
    elif what == "area":
        ask_area(turn)
    elif what == "lang":
        ask_language(turn)
    else:
        turn.dialog.clear()
        turn.reply(turn.t("button-stale"))


async def on_callback(turn: Turn, inbound: Inbound) -> None:
    data = inbound.callback or ""
    if data.startswith("sub:e:"):
        await on_edit(turn, data.removeprefix("sub:e:"))
        return
    if turn.dialog.flow != FLOW:
        turn.reply(turn.t("button-stale"))
        return
    await subscribe_step(turn, inbound)


async def subscribe_step(turn: Turn, inbound: Inbound) -> None:
    """Any input while the subscribe dialog is open."""
    step = turn.dialog.step
    data = turn.dialog.data
    callback = inbound.callback or ""
    t = turn.t

    if callback == "sub:x":
        turn.dialog.clear()
        turn.reply(Reply(t("sub-cancelled"), remove_keyboard=True))
        return

    if step == "topics":
        topic = callback.removeprefix("sub:t:")
        if callback.startswith("sub:t:") and topic in TOPICS:
            chosen: list[str] = data.setdefault("topics", [])
            if topic in chosen:
                chosen.remove(topic)
            else:
                chosen.append(topic)
            ask_topics(turn)
        elif callback == "sub:ok":
            if not data.get("topics"):
                turn.reply(t("sub-need-topic"))
            elif data.get("edit"):
                await _save(turn)
            else:
                ask_area(turn)
        else:
            reask(turn)
        return

    if step in {"area", "pick"}:
        location = inbound.location or parse_typed_location(inbound.text, turn.channel)
        if location is not None:
            await _take_location(turn, location)
        elif callback == "sub:pk":
            ask_county(turn)
        elif callback == "sub:pk:up":
            ask_area(turn)
        elif callback.startswith("sub:pk:"):
            county = turn.grid.cells.get(callback.removeprefix("sub:pk:"))
            if county is None or county.code not in {c.code for c in _counties(turn)}:
                turn.reply(t("button-stale"))
            else:
                ask_township(turn, county)
        elif callback.startswith("sub:a:"):
            await _take_area(turn, callback.removeprefix("sub:a:"))
        else:
            reask(turn)
        return

    if step == "language":
        code = callback.removeprefix("sub:l:")
        if callback.startswith("sub:l:") and code in LOCALES:
            turn.person.locale = code
            await _save(turn)
        else:
            reask(turn)
        return

    turn.dialog.clear()  # a step from an older version: start over rather than guess
    turn.reply(t("sub-restart"))


async def _take_area(turn: Turn, code: str) -> None:
    if code == "all":
        turn.dialog.data["area"] = None
    else:
        ref = turn.grid.cells.get(code)
        # Only a county or a township may be an area; a forged button changes nothing.
        if ref is None or ref.level not in {Level.COUNTY, Level.TOWNSHIP}:
            turn.reply(turn.t("button-stale"))
            return
        turn.dialog.data["area"] = ref.code
    await _after_area(turn)


async def _take_location(turn: Turn, location: Location) -> None:
    t = turn.t
    try:
        result = turn.grid.route(location.lat, location.lon, datum=Datum(location.datum))
    except (InvalidCoordinate, ValueError):
        turn.reply(t("sub-area-invalid"))
        return
    area = result.at_level(Level.TOWNSHIP) or result.at_level(Level.COUNTY)
    if not result.inside or area is None:
        turn.reply(
            Reply(
                t("sub-area-outside"),
                buttons=(
                    (Button(t("button-pick-from-list"), "sub:pk"),),
                    (Button(t("button-cancel"), "sub:x"),),
                ),
            )
        )
        return
    turn.dialog.data["area"] = area.code
    await _after_area(turn)


async def _after_area(turn: Turn) -> None:
    if turn.dialog.data.get("edit"):
        await _save(turn)
    else:
        ask_language(turn)


async def _save(turn: Turn) -> None:
    data = turn.dialog.data
    topics = [t for t in data.get("topics", []) if t in TOPICS]
    area = data.get("area")
    if area is not None and area not in turn.grid.cells:
        area = None
    await subscriptions.set_subscriptions(turn.session, turn.person.id, topics, area, now=turn.now)
    edit = bool(data.get("edit"))
    turn.dialog.clear()
    if edit:
        turn.reply(Reply(turn.t("settings-saved"), remove_keyboard=True))
        await show_settings(turn)
        return
    quiet = turn.settings.quiet_hours
    turn.reply(
        Reply(
            turn.t(
                "sub-saved",
                topics=turn.t.join([turn.t(f"topic-{t}") for t in TOPICS if t in topics]),
                area=area_name(turn, area),
                quiet=turn.t("quiet-off") if QuietHours.parse(quiet).start is None else quiet,
            ),
            remove_keyboard=True,
        )
    )


COMMANDS = {
    "subscribe": cmd_subscribe,
    "unsubscribe": cmd_unsubscribe,
    "settings": cmd_settings,
}
CALLBACKS = {"sub:": on_callback, "uns:": on_unsubscribe}
FLOWS = {FLOW: subscribe_step}
