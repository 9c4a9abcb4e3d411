"""How every notice about a case reads: events in, one message per recipient out.

Services decide (through `bot.domain.decisions`) and say what happened; this module alone turns
those events into text, in each recipient's language with Fluent and with their channel's buttons
and map datum. It runs no queries: the services hand it the recipients they looked up.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.delivery.message import Button, Location, NoticeTag, Reply, stored_ref
from bot.delivery.outbox import Envelope
from bot.domain.access import Verb, offered_verbs
from bot.domain.cases import Status
from bot.domain.decisions import Audience, Event
from bot.domain.geo import Datum, convert
from bot.domain.grid import GridIndex
from bot.services import callbacks
from messages import LOCALES, Translator

# The notices that tag themselves (`Reply.notice`), and the values each carries. A channel that
# reaches people by template maps its template's fields onto these names. Every kind also has
# "title" (the notice's first line) and "hint" (how to see more), both in the recipient's locale.
NOTICE_VALUES: dict[str, tuple[str, ...]] = {
    "case-new": ("title", "hint", "number", "category", "cell", "deadline"),
    "case-escalated": ("title", "hint", "number", "cell"),
    "case-status": ("title", "hint", "number", "status", "cell"),
    "follow-up": ("title", "hint", "number", "days"),
}

# The datum each channel's map shows: Telegram clients use WGS-84, WeChat uses GCJ-02.
CHANNEL_DATUM = {"telegram": Datum.WGS84, "console": Datum.WGS84, "wechat": Datum.GCJ02}
DIGEST_MAX_NUMBERS = 40

_BUTTON_KEYS = {
    Verb.ACKNOWLEDGE: "sv-button-ack",
    Verb.ASK: "sv-button-ask",
    Verb.TRANSFER: "sv-button-transfer",
    Verb.RESOLVE: "sv-button-resolve",
    Verb.REJECT: "sv-button-reject",
}


class CaseLike(Protocol):
    """What a notice reads of a case (the stored Case row has it)."""

    id: int
    number: str
    category: str
    description: str
    urgent: bool
    status: str
    lat: float
    lon: float
    origin_cell_code: str
    cell_code: str
    ack_due_at: datetime | None


@dataclass(frozen=True, slots=True)
class Chat:
    """Somewhere a person can be reached, and the language they read."""

    channel: str
    chat_id: str
    locale: str | None


@dataclass(frozen=True, slots=True)
class SupervisorChat:
    """A chat of a supervisor of `cell_code` (a chat may serve several cells)."""

    cell_code: str
    channel: str
    chat_id: str
    locale: str | None


@dataclass(frozen=True, slots=True)
class ReporterChat:
    person_id: int
    channel: str
    chat_id: str
    locale: str | None


@dataclass(frozen=True, slots=True)
class PhotoRef:
    """A photo of a case: its reference on the channel it came from, and its stored file once
    the media fetcher has it."""

    channel: str
    file_ref: str
    sha256: str | None = None


# A photo as the notices take it: a PhotoRef, or a bare reference on the notice's photo channel.
Photo = PhotoRef | str


# --- small pieces every notice uses ---------------------------------------------------------------


def photos_for(
    channel: str, photos: Iterable[Photo], photo_channel: str | None = None
) -> tuple[str, ...]:
    """The photos a chat on `channel` can be shown: a stored one anywhere (with its platform id
    when it came from that channel), one not yet stored only on the channel it came from."""
    refs = []
    for photo in photos:
        ref = photo if isinstance(photo, PhotoRef) else PhotoRef(photo_channel or "", photo)
        if ref.sha256 is not None:
            same = ref.channel == channel
            refs.append(stored_ref(ref.sha256, ref.file_ref if same else None))
        elif ref.channel == channel:
            refs.append(ref.file_ref)
    return tuple(refs)


def translator(locale: str | None, default: str) -> Translator:
    return Translator(locale if locale in LOCALES else default)


def cell_name(grid: GridIndex, code: str, locale: str) -> str:
    ref = grid.cells.get(code)
    return ref.names.for_locale(locale) if ref else code


def local_time(moment: datetime | None, tz_name: str, *, clock_only: bool = False) -> str:
    """Every time a person reads, in the bureau's time zone (JINGTU_TIMEZONE): date and time,
    or with `clock_only` just HH:MM."""
    if moment is None:
        return "—"
    return moment.astimezone(ZoneInfo(tz_name)).strftime(
        "%H:%M" if clock_only else "%Y-%m-%d %H:%M"
    )


def channel_datum(channel: str) -> Datum:
    """The datum of a channel's coordinates, shared or typed, and of the maps it shows."""
    return CHANNEL_DATUM.get(channel, Datum.WGS84)


def location_for(channel: str, case: CaseLike, grid: GridIndex) -> Location:
    target = channel_datum(channel)
    point = convert(case.lat, case.lon, source=grid.datum, target=target)
    return Location(point.lat, point.lon, target.value)


def action_buttons(t: Translator, case_id: int, status: str) -> tuple[tuple[Button, ...], ...]:
    """The case-card buttons of the actions the case's status still allows, two to a row."""
    buttons = [
        Button(t(_BUTTON_KEYS[verb]), callbacks.case_action(verb, case_id))
        for verb in offered_verbs(Status(status))
    ]
    return tuple(tuple(buttons[i : i + 2]) for i in range(0, len(buttons), 2))


def follow_up_buttons(t: Translator, case_id: int) -> tuple[tuple[Button, ...], ...]:
    return (
        (
            Button(t("rp-button-fixed"), callbacks.follow_up_answer(case_id, fixed=True)),
            Button(t("rp-button-not-fixed"), callbacks.follow_up_answer(case_id, fixed=False)),
        ),
    )


def notice_tag(t: Translator, kind: str, text: str, **values: str) -> NoticeTag:
    """The tag of a notice: its kind, its first line as title, a hint and its own values."""
    assert set(values) | {"title", "hint"} == set(NOTICE_VALUES[kind]), kind
    title = text.strip().split("\n", 1)[0].strip()
    return NoticeTag(kind, {"title": title, "hint": t("notice-hint"), **values})


def _days(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


# --- the case card: what a supervisor sees of a case handed to their cell -------------------------


def case_card_text(
    t: Translator,
    case: CaseLike,
    grid: GridIndex,
    *,
    responsible_cell: str,
    reporter: str | None,
    photos: int,
    timezone: str,
) -> str:
    """The case in full; `reporter` None when they asked to stay anonymous."""
    return t(
        "sv-new-case",
        number=case.number,
        urgent="yes" if case.urgent else "no",
        category=t(f"category-{case.category}"),
        cell=cell_name(grid, case.origin_cell_code, t.locale),
        responsible=cell_name(grid, responsible_cell, t.locale),
        description=case.description,
        reporter=reporter if reporter else t("sv-reporter-anonymous"),
        photos=photos,
        ack_due=local_time(case.ack_due_at, timezone),
    )


def case_card_envelopes(
    case: CaseLike,
    chats: Sequence[SupervisorChat],
    grid: GridIndex,
    *,
    default_locale: str,
    timezone: str,
    reporter: str | None,
    photos: Sequence[Photo] = (),
    photo_channel: str | None = None,
    header: tuple[str, Mapping[str, Any]] | None = None,
    dedupe: str | None = None,
) -> list[Envelope]:
    """The case card for each chat, with its buttons and its place on the chat's map.

    `header` (a message key and its arguments; "cell" and "from" are cell codes, named here)
    goes above the card; each chat gets the photos it can be shown (`photos_for`).
    """
    envelopes = []
    for chat in chats:
        t = translator(chat.locale, default_locale)
        text = case_card_text(
            t,
            case,
            grid,
            responsible_cell=chat.cell_code,
            reporter=reporter,
            photos=len(photos),
            timezone=timezone,
        )
        if header is not None:
            key, args = header
            named = {
                k: cell_name(grid, v, t.locale) if k in {"cell", "from"} else v
                for k, v in args.items()
            }
            text = t(key, number=case.number, **named) + "\n\n" + text
        reply = Reply(
            text,
            buttons=action_buttons(t, case.id, case.status),
            location=location_for(chat.channel, case, grid),
            photos=photos_for(chat.channel, photos, photo_channel),
            notice=notice_tag(
                t,
                "case-new",
                text,
                number=case.number,
                category=t(f"category-{case.category}"),
                cell=cell_name(grid, chat.cell_code, t.locale),
                deadline=local_time(case.ack_due_at, timezone),
            ),
        )
        envelopes.append(
            Envelope(
                chat.channel,
                chat.chat_id,
                reply.to_payload(),
                dedupe_key=f"case:{case.id}:{dedupe}:{chat.channel}:{chat.chat_id}"
                if dedupe
                else None,
                case_id=case.id,
            )
        )
    return envelopes


def joined_case_envelopes(
    case: CaseLike,
    reporter_count: int,
    chats: Sequence[SupervisorChat],
    *,
    default_locale: str,
    description: str,
    reporter: str | None,
) -> list[Envelope]:
    """Another resident reported the same thing: the supervisors hear it joined the case."""
    envelopes = []
    for chat in chats:
        t = translator(chat.locale, default_locale)
        text = t(
            "sv-case-joined",
            number=case.number,
            reporters=reporter_count,
            description=description,
            reporter=reporter if reporter else t("sv-reporter-anonymous"),
        )
        envelopes.append(
            Envelope(chat.channel, chat.chat_id, Reply(text).to_payload(), case_id=case.id)
        )
    return envelopes


# --- what reporters hear --------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Recorded:
    """An event as stored: its id (a question's answer button names it) and the case's number."""

    event: Event
    event_id: int | None = None


def reporter_reply(
    t: Translator,
    event: Event,
    *,
    number: str,
    case_id: int,
    grid: GridIndex,
    follow_up_days: float,
    event_id: int | None = None,
    photos: Sequence[str] = (),
) -> Reply | None:
    """What a reporter reads of one event, or None when it is no news to them; tagged as the
    follow-up question or a status change."""
    reply = _reporter_reply(
        t,
        event,
        number=number,
        case_id=case_id,
        grid=grid,
        follow_up_days=follow_up_days,
        event_id=event_id,
        photos=photos,
    )
    if reply is None:
        return None
    if event.kind == "follow_up":
        tag = notice_tag(t, "follow-up", reply.text, number=number, days=str(_days(follow_up_days)))
    else:
        acting = str(event.data.get("cell") or event.to_cell or "")
        tag = notice_tag(
            t,
            "case-status",
            reply.text,
            number=number,
            status=t(f"status-{event.to_status}") if event.to_status else "",
            cell=cell_name(grid, acting, t.locale) if acting else "",
        )
    return replace(reply, notice=tag)


def _reporter_reply(
    t: Translator,
    event: Event,
    *,
    number: str,
    case_id: int,
    grid: GridIndex,
    follow_up_days: float,
    event_id: int | None = None,
    photos: Sequence[str] = (),
) -> Reply | None:
    data = event.data
    acting = str(data.get("cell") or event.to_cell or "")

    def name(code: str) -> str:
        return cell_name(grid, code, t.locale)

    kind = event.kind
    if kind == "acknowledge":
        return Reply(t("rp-acknowledged", number=number, cell=name(acting)))
    if kind == "question" and event_id is not None:
        return Reply(
            t("rp-question", number=number, cell=name(acting), question=event.note),
            buttons=((Button(t("rp-button-answer"), callbacks.answer_question(event_id)),),),
        )
    if kind == "transfer":
        return Reply(t("rp-transferred", number=number, cell=name(event.to_cell or "")))
    if kind == "resolve":
        return Reply(
            t("rp-resolved", number=number, cell=name(acting), note=event.note),
            photos=tuple(photos),
        )
    if kind == "reject":
        return Reply(t("rp-rejected", number=number, cell=name(acting), reason=event.note))
    if kind == "merge":
        return Reply(
            t("rp-merged", number=number, target=data.get("merged_into", ""), reason=event.note)
        )
    if kind == "escalate":
        reached = data.get("reached") or "city"
        return Reply(t("rp-escalated", number=number, reason=data.get("reason"), level=reached))
    if kind == "follow_up":
        return Reply(
            t("rp-follow-up", number=number, days=_days(follow_up_days)),
            buttons=follow_up_buttons(t, case_id),
        )
    if kind == "close":
        key = "rp-closed-no-answer" if data.get("fixed") is None else "rp-closed"
        return Reply(t(key, number=number))
    if kind == "reopen":
        return Reply(t("rp-reopened", number=number))
    if kind == "desk_message":
        return Reply(t("rp-desk-message", number=number, message=event.note))
    return None


def reporter_envelopes(
    recorded: Iterable[Recorded],
    reporters: Sequence[ReporterChat],
    *,
    number: str,
    case_id: int,
    grid: GridIndex,
    default_locale: str,
    follow_up_days: float,
    actor_person_id: int | None = None,
    photos: Sequence[Photo] = (),
    photo_channel: str | None = None,
) -> list[Envelope]:
    """Each event that concerns the reporters, for each of them in their language."""
    envelopes = []
    for item in recorded:
        audiences = item.event.audiences
        if Audience.REPORTERS in audiences:
            skip = None
        elif Audience.OTHER_REPORTERS in audiences:
            skip = actor_person_id
        else:
            continue
        for reporter in reporters:
            if reporter.person_id == skip:
                continue
            reply = reporter_reply(
                translator(reporter.locale, default_locale),
                item.event,
                number=number,
                case_id=case_id,
                grid=grid,
                follow_up_days=follow_up_days,
                event_id=item.event_id,
                photos=photos_for(reporter.channel, photos, photo_channel),
            )
            if reply is not None:
                envelopes.append(
                    Envelope(
                        reporter.channel, reporter.chat_id, reply.to_payload(), case_id=case_id
                    )
                )
    return envelopes


def answer_relayed(
    asker: Chat, *, number: str, answer: str, case_id: int, default_locale: str
) -> Envelope:
    """A reporter's answer, for the supervisor who asked: never who answered, nor from where."""
    t = translator(asker.locale, default_locale)
    reply = Reply(t("sv-answer-relayed", number=number, answer=answer))
    return Envelope(asker.channel, asker.chat_id, reply.to_payload(), case_id=case_id)


# --- photos that arrive after their notice ---------------------------------------------------------


def case_photos_envelopes(
    *,
    number: str,
    case_id: int,
    kind: str,
    photos: Sequence[PhotoRef],
    chats: Sequence[Chat],
    default_locale: str,
    dedupe: str,
) -> list[Envelope]:
    """Stored photos for the chats whose notice went without them (they were on another
    channel, and not yet downloaded): `kind` is the photos' kind, report or resolution."""
    envelopes = []
    for chat in chats:
        shown = photos_for(chat.channel, photos)
        if not shown:
            continue
        t = translator(chat.locale, default_locale)
        reply = Reply(t("case-photos", number=number, kind=kind, count=len(shown)), photos=shown)
        envelopes.append(
            Envelope(
                chat.channel,
                chat.chat_id,
                reply.to_payload(),
                dedupe_key=f"case:{case_id}:photos:{dedupe}:{chat.channel}:{chat.chat_id}",
                case_id=case_id,
            )
        )
    return envelopes


# --- escalation digests: what both levels hear when cases climb -----------------------------------


@dataclass(frozen=True, slots=True)
class EscalationNotice:
    case_id: int
    number: str
    status: str
    from_cell: str
    to_cell: str | None  # None: overdue at the top of the grid, nowhere higher to go
    reason: str  # ack | resolve | reopened

    @classmethod
    def of(cls, case_id: int, number: str, event: Event) -> EscalationNotice:
        """The notice for an `escalate` or `overdue` event."""
        return cls(
            case_id,
            number,
            str(event.to_status or ""),
            event.from_cell or "",
            event.to_cell if event.kind == "escalate" else None,
            str(event.data.get("reason", "")),
        )


def escalation_cells(notices: Iterable[EscalationNotice]) -> set[str]:
    """The cells whose supervisors a set of notices concerns."""
    cells = set()
    for n in notices:
        cells.add(n.from_cell)
        if n.to_cell is not None:
            cells.add(n.to_cell)
    return cells


def escalation_digests(
    notices: Sequence[EscalationNotice],
    chats: Sequence[SupervisorChat],
    grid: GridIndex,
    *,
    default_locale: str,
) -> list[Envelope]:
    """Tell both levels: one digest per supervisor chat, not one message per case or cell.

    A digest has a section per kind of news: cases escalated to one of the chat's cells
    ("escalated to you"), cases that left one of its cells ("escalated from you to …") and, at
    the top of the grid, cases overdue there; each section lists its case numbers. A digest about
    a single case that reached the chat carries that case's buttons.
    """
    groups: dict[tuple[str, str, str, str], list[EscalationNotice]] = defaultdict(list)
    for n in notices:
        if n.to_cell is None:
            groups[("top", n.from_cell, n.from_cell, n.reason)].append(n)
        else:
            groups[("in", n.to_cell, n.from_cell, n.reason)].append(n)
            groups[("out", n.from_cell, n.to_cell, n.reason)].append(n)
    chats_by_cell: dict[str, list[SupervisorChat]] = defaultdict(list)
    for chat in chats:
        chats_by_cell[chat.cell_code].append(chat)
    sections: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    numbers_of: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    cells_of: dict[tuple[str, str, str], list[str]] = defaultdict(list)
    arrived: dict[tuple[str, str, str], list[EscalationNotice]] = defaultdict(list)
    for (kind, cell, other, reason), items in groups.items():
        numbers = [n.number for n in items]
        more = len(numbers) > DIGEST_MAX_NUMBERS
        for chat in chats_by_cell.get(cell, ()):
            t = translator(chat.locale, default_locale)
            shown = t.join(numbers[:DIGEST_MAX_NUMBERS], more=more)
            key = (chat.channel, chat.chat_id, t.locale)
            sections[key].append(_section(t, grid, kind, reason, cell, other, shown))
            numbers_of[key].extend(n for n in numbers if n not in numbers_of[key])
            if (name := cell_name(grid, cell, t.locale)) not in cells_of[key]:
                cells_of[key].append(name)
            if kind != "out":
                arrived[key].extend(items)
    envelopes: list[Envelope] = []
    for (channel, chat_id, locale), texts in sections.items():
        cases = arrived.get((channel, chat_id, locale), [])
        # Buttons only when the digest is about exactly one case the chat must now act on.
        single = cases[0] if len(cases) == 1 and len(texts) == 1 else None
        buttons = (
            action_buttons(Translator(locale), single.case_id, single.status) if single else ()
        )
        text = "\n\n".join(texts)
        key = (channel, chat_id, locale)
        tag = notice_tag(
            Translator(locale),
            "case-escalated",
            text,
            number=_listed(numbers_of[key]),
            cell=", ".join(cells_of[key]),
        )
        envelopes.append(
            Envelope(
                channel,
                chat_id,
                Reply(text, buttons=buttons, notice=tag).to_payload(),
                case_id=single.case_id if single else None,
            )
        )
    return envelopes


def _listed(numbers: Sequence[str]) -> str:
    shown = ", ".join(numbers[:DIGEST_MAX_NUMBERS])
    return shown + (" …" if len(numbers) > DIGEST_MAX_NUMBERS else "")


def _section(
    t: Translator, grid: GridIndex, kind: str, reason: str, cell: str, other: str, numbers: str
) -> str:
    here, there = cell_name(grid, cell, t.locale), cell_name(grid, other, t.locale)
    if kind == "in":
        return t("sv-escalated-in", reason=reason, cell=here, numbers=numbers)
    if kind == "out":
        return t("sv-escalated-out", reason=reason, cell=there, numbers=numbers, **{"from": here})
    return t("sv-overdue-top", reason=reason, cell=here, numbers=numbers)
