"""The supervisor's conversations: joining by invite, the inbox, one case, the case buttons.

Also the two resident-side replies the supervision feature asks for: answering a supervisor's
question (relayed anonymously) and the follow-up "is it fixed?" buttons.

Buttons carry the data `bot.services.callbacks` encodes and parses; every press is checked again
against the stored case through the one authorization rule (`bot.services.case_access`), so a
stale or forged button changes nothing but a SecurityEvent.
"""

from __future__ import annotations

import re

from bot.domain.access import Verb
from bot.domain.cases import Status
from bot.services import callbacks, case_access, case_actions, case_queries, invites, notices
from bot.services.case_access import ActionRefused
from bot.services.case_actions import MAX_TEXT, MIN_TEXT
from bot.services.conversation import Turn
from handlers import resident
from handlers.common import clean_text
from handlers.contract import Button, Inbound, Reply

FLOW = "sv"
ANSWER_FLOW = "rq"
_CASE_NUMBER = re.compile(r"^\s*(\d{4}-\d{5})\b[\s,:;，：]*(.*)$", re.DOTALL)


def _refuse(turn: Turn, refused: ActionRefused) -> None:
    args = dict(refused.args_for_message)
    if "status" in args:
        args["status"] = turn.t(f"status-{Status(args['status']).value}")
    _leave_our_dialog(turn)
    turn.reply(turn.t(refused.key, **args))


async def _invalid(turn: Turn, what: str) -> None:
    await case_access.record_refusal(
        turn.session,
        turn.person,
        action=what,
        case_id=None,
        reason="malformed button data",
        now=turn.now,
    )
    _leave_our_dialog(turn)
    turn.reply(turn.t("sv-refused-invalid"))


def _leave_our_dialog(turn: Turn) -> None:
    """A refused press ends a supervision dialog, but never a resident's report draft."""
    if turn.dialog.flow in {FLOW, ANSWER_FLOW}:
        turn.dialog.clear()


# --- commands -----------------------------------------------------------------------------------


async def cmd_start(turn: Turn, inbound: Inbound) -> None:
    """`/start CODE` joins as a supervisor (a Telegram deep link); plain `/start` welcomes."""
    if inbound.command_args:
        await _join(turn, inbound.command_args)
        return
    await resident.cmd_start(turn, inbound)


async def cmd_join(turn: Turn, inbound: Inbound) -> None:
    if not inbound.command_args:
        turn.reply(turn.t("sv-invite-usage"))
        return
    await _join(turn, inbound.command_args)


async def _join(turn: Turn, raw: str) -> None:
    result = await invites.redeem(turn, raw[:64])
    args = dict(result.args)
    for name in ("until", "expired"):
        if name in args:
            args[name] = notices.local_time(args[name], turn.settings.timezone)
    if result.cell_code is not None:
        args["cell"] = notices.cell_name(turn.grid, result.cell_code, turn.locale)
    turn.reply(turn.t(result.key, **args))


async def cmd_inbox(turn: Turn, inbound: Inbound) -> None:
    mine = await case_access.cells_of(turn.session, turn.person)
    if not mine:
        turn.reply(turn.t("sv-not-supervisor"))
        return
    entries, total = await case_queries.inbox(turn.session, turn.grid, mine, turn.now)
    t = turn.t
    if not entries:
        turn.reply(t("sv-inbox-empty"))
        return
    lines = [t("sv-inbox-title", count=total)]
    for entry in entries:
        c = entry.case
        lines.append(
            t(
                "sv-inbox-line",
                overdue="yes" if entry.overdue else "no",
                number=c.number,
                category=t(f"category-{c.category}"),
                status=t(f"status-{c.status}"),
                cell=notices.cell_name(turn.grid, c.cell_code, turn.locale),
            )
        )
    if total > len(entries):
        lines.append(t("sv-inbox-more", more=total - len(entries)))
    turn.reply("\n".join(lines) + "\n\n" + t("sv-inbox-hint"))


async def cmd_case(turn: Turn, inbound: Inbound) -> None:
    """A supervisor of the case sees it whole, with its timeline; anyone else as a resident."""
    number = resident.case_number(turn, inbound.command_args)
    if not number:
        turn.reply(turn.t("case-usage"))
        return
    case = await case_access.case_by_number_for(
        turn.session, turn.grid, turn.person, number, Verb.VIEW, Verb.VIEW_AS_REPORTER, now=turn.now
    )
    if case is None:
        turn.reply(turn.t("case-not-found", number=number))
        return
    if not await case_access.allows(turn.session, turn.grid, turn.person, case, Verb.VIEW):
        resident.show_case(turn, case)
        return
    t = turn.t
    tz = turn.settings.timezone
    escalated = case_access.facts_of(turn.grid, case).chain[1 : case.escalation_level + 1]
    lines = [
        t(
            "sv-case-detail",
            number=case.number,
            urgent="yes" if case.urgent else "no",
            category=t(f"category-{case.category}"),
            status=t(f"status-{case.status}"),
            cell=notices.cell_name(turn.grid, case.origin_cell_code, turn.locale),
            responsible=notices.cell_name(turn.grid, case.cell_code, turn.locale),
            escalated=" → ".join(notices.cell_name(turn.grid, c, turn.locale) for c in escalated)
            or t("sv-not-escalated"),
            description=case.description,
            reporters=case.reporter_count,
            created=notices.local_time(case.created_at, tz),
            ack_due=notices.local_time(case.ack_due_at, tz),
            resolve_due=notices.local_time(case.resolve_due_at, tz),
        ),
        "",
        t("sv-timeline-title"),
    ]
    for event in await case_queries.case_timeline(turn.session, case.id):
        what = _event_text(turn, event.kind, event.from_cell, event.to_cell)
        line = f"{notices.local_time(event.at, tz)} · {what}"
        if event.note and event.kind not in {"joined", "answer"}:
            line += f" — {event.note[:200]}"
        lines.append(line)
    turn.reply(
        Reply(
            "\n".join(lines),
            buttons=notices.action_buttons(t, case.id, case.status),
            location=notices.location_for(turn.channel, case, turn.grid),
        )
    )


def _event_text(turn: Turn, kind: str, from_cell: str | None, to_cell: str | None) -> str:
    key = f"sv-event-{kind.replace('_', '-')}"
    known = {
        "created", "assigned", "joined", "acknowledge", "transfer", "escalate", "overdue",
        "resolve", "close", "reopen", "reject", "merge", "question", "answer", "follow-up",
    }  # fmt: skip
    if kind.replace("_", "-") not in known:
        return turn.t("sv-event-other", kind=kind)
    name = lambda code: notices.cell_name(turn.grid, code or "", turn.locale)  # noqa: E731
    return turn.t(key, cell=name(to_cell), **{"from": name(from_cell)})


# --- the case buttons ---------------------------------------------------------------------------


async def on_button(turn: Turn, inbound: Inbound) -> None:
    press = callbacks.parse(inbound.callback)
    if isinstance(press, callbacks.CaseAction):
        await _start_action(turn, press.verb, press.case_id)
    elif isinstance(press, callbacks.TransferTo):
        await _choose_transfer_target(turn, press.case_id, press.cell_code)
    elif isinstance(press, callbacks.RejectAs):
        await _choose_reject_kind(turn, press.case_id, duplicate=press.duplicate)
    elif isinstance(press, callbacks.SkipPhoto) and turn.dialog.flow == FLOW:
        await supervisor_step(turn, inbound)
    else:
        await _invalid(turn, "sv-button")


async def _authorize(turn: Turn, case_id: int, verb: Verb, what: str) -> case_access.Granted:
    return await case_access.authorize_by_id(
        turn.session, turn.grid, turn.person, case_id, verb, what=f"sv-{what}", now=turn.now
    )


async def _start_action(turn: Turn, verb: Verb, case_id: int) -> None:
    try:
        granted = await _authorize(turn, case_id, verb, verb.value)
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    case, cell = granted.case, granted.cell
    t = turn.t
    if verb == Verb.ACKNOWLEDGE:
        await case_actions.acknowledge(turn, turn.person, case, cell)
        turn.dialog.clear()
        turn.reply(
            t(
                "sv-ack-done",
                number=case.number,
                resolve_due=notices.local_time(case.resolve_due_at, turn.settings.timezone),
            )
        )
    elif verb == Verb.ASK:
        turn.dialog.start(FLOW, "ask", case_id=case.id)
        turn.reply(
            t(
                "sv-ask-prompt",
                number=case.number,
                cell=notices.cell_name(turn.grid, cell, turn.locale),
            )
        )
    elif verb == Verb.TRANSFER:
        options = await case_queries.transfer_options(turn.session, turn.grid, case)
        if not options:
            turn.reply(t("sv-transfer-none", number=case.number))
            return
        rows = tuple(
            (Button(o.names.for_locale(turn.locale), callbacks.transfer_to(case.id, o.code)),)
            for o in options
        )
        turn.reply(Reply(t("sv-transfer-choose", number=case.number), buttons=rows))
    elif verb == Verb.RESOLVE:
        turn.dialog.start(FLOW, "resolve-note", case_id=case.id)
        turn.reply(t("sv-resolve-note", number=case.number))
    elif verb == Verb.REJECT:
        turn.reply(
            Reply(
                t("sv-reject-choose", number=case.number),
                buttons=(
                    (
                        Button(
                            t("sv-button-not-pollution"),
                            callbacks.reject_as(case.id, duplicate=False),
                        ),
                    ),
                    (
                        Button(
                            t("sv-button-duplicate"), callbacks.reject_as(case.id, duplicate=True)
                        ),
                    ),
                ),
            )
        )


async def _choose_transfer_target(turn: Turn, case_id: int, to_code: str) -> None:
    try:
        case = (await _authorize(turn, case_id, Verb.TRANSFER, "tr")).case
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    options = {o.code for o in await case_queries.transfer_options(turn.session, turn.grid, case)}
    if to_code not in options:
        await _invalid(turn, "sv-tr")
        return
    turn.dialog.start(FLOW, "transfer-reason", case_id=case.id, to=to_code)
    turn.reply(
        turn.t(
            "sv-transfer-reason",
            number=case.number,
            cell=notices.cell_name(turn.grid, to_code, turn.locale),
        )
    )


async def _choose_reject_kind(turn: Turn, case_id: int, *, duplicate: bool) -> None:
    verb = Verb.MERGE if duplicate else Verb.REJECT
    try:
        case = (await _authorize(turn, case_id, verb, "rej")).case
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    if not duplicate:
        turn.dialog.start(FLOW, "reject-reason", case_id=case.id)
        turn.reply(turn.t("sv-reject-reason", number=case.number))
    else:
        turn.dialog.start(FLOW, "duplicate", case_id=case.id)
        turn.reply(turn.t("sv-duplicate-ask", number=case.number))


# --- the supervisor's dialog (typed question, reason, note, photo) ------------------------------

STEP_ACTIONS: dict[str, tuple[Verb, str]] = {
    "ask": (Verb.ASK, "ask"),
    "transfer-reason": (Verb.TRANSFER, "tr"),
    "resolve-note": (Verb.RESOLVE, "res"),
    "resolve-photo": (Verb.RESOLVE, "res"),
    "reject-reason": (Verb.REJECT, "rej"),
    "duplicate": (Verb.MERGE, "rej"),
}


async def supervisor_step(turn: Turn, inbound: Inbound) -> None:
    data = turn.dialog.data
    step = turn.dialog.step
    if step not in STEP_ACTIONS or not isinstance(data.get("case_id"), int):
        turn.dialog.clear()
        turn.reply(turn.t("sv-refused-invalid"))
        return
    verb, what = STEP_ACTIONS[step]
    t = turn.t
    text = clean_text(inbound.text)
    if step == "resolve-photo":
        if not inbound.photo and inbound.callback != callbacks.SKIP_PHOTO:
            turn.reply(
                Reply(
                    t("sv-resolve-photo"),
                    buttons=((Button(t("button-skip"), callbacks.SKIP_PHOTO),),),
                )
            )
            return
    elif not MIN_TEXT <= len(text) <= MAX_TEXT or inbound.callback:
        turn.reply(t("sv-text-needed", min=MIN_TEXT, max=MAX_TEXT))
        return
    # The case may have moved on since the dialog began: check again before acting.
    try:
        granted = await _authorize(turn, int(data["case_id"]), verb, what)
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    case, cell = granted.case, granted.cell
    if step == "ask":
        await case_actions.ask_reporters(turn, turn.person, case, cell, text)
        turn.dialog.clear()
        turn.reply(t("sv-ask-sent", number=case.number))
    elif step == "transfer-reason":
        to_code = str(data.get("to", ""))
        options = {
            o.code for o in await case_queries.transfer_options(turn.session, turn.grid, case)
        }
        if to_code not in options:
            await _invalid(turn, "sv-tr")
            return
        await case_actions.transfer(turn, turn.person, case, cell, to_code, text)
        turn.dialog.clear()
        turn.reply(
            t(
                "sv-transfer-done",
                number=case.number,
                cell=notices.cell_name(turn.grid, to_code, turn.locale),
            )
        )
    elif step == "resolve-note":
        data["note"] = text
        turn.dialog.step = "resolve-photo"
        turn.reply(
            Reply(
                t("sv-resolve-photo"), buttons=((Button(t("button-skip"), callbacks.SKIP_PHOTO),),)
            )
        )
    elif step == "resolve-photo":
        await case_actions.resolve(
            turn,
            turn.person,
            case,
            cell,
            str(data.get("note", "")),
            photo=inbound.photo,
            channel=turn.channel,
        )
        turn.dialog.clear()
        days = turn.settings.follow_up_days
        turn.reply(
            t("sv-resolve-done", number=case.number, days=int(days) if days.is_integer() else days)
        )
    elif step == "reject-reason":
        await case_actions.reject(turn, turn.person, case, cell, text)
        turn.dialog.clear()
        turn.reply(t("sv-reject-done", number=case.number, reason=text))
    elif step == "duplicate":
        await _merge(turn, granted, text)


async def _merge(turn: Turn, granted: case_access.Granted, text: str) -> None:
    t = turn.t
    case = granted.case
    match = _CASE_NUMBER.match(text)
    if match is None or len(match.group(2).strip()) < MIN_TEXT:
        turn.reply(t("sv-duplicate-format"))
        return
    number, reason = match.group(1), match.group(2).strip()
    if number == case.number:
        turn.reply(t("sv-duplicate-self"))
        return
    # Only an open case this supervisor may see: refused and recorded alike when it does not
    # exist, is closed, or lies in someone else's cells.
    target = await case_access.case_by_number_for(
        turn.session, turn.grid, turn.person, number, Verb.MERGE_INTO, now=turn.now
    )
    if target is None:
        turn.reply(t("sv-duplicate-unknown", target=number))
        return
    await case_actions.merge(turn, turn.person, case, target, reason)
    turn.dialog.clear()
    turn.reply(t("sv-merge-done", number=case.number, target=target.number))


# --- the reporter's side: answering a question, the follow-up ------------------------------------


async def on_answer_button(turn: Turn, inbound: Inbound) -> None:
    press = callbacks.parse(inbound.callback)
    if not isinstance(press, callbacks.AnswerQuestion):
        await _invalid(turn, "rp-answer")
        return
    try:
        question, case = await case_access.question_for(
            turn.session, turn.grid, turn.person, press.question_id, now=turn.now
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    cell = str((question.data or {}).get("cell", case.cell_code))
    turn.dialog.start(ANSWER_FLOW, "answer", question=press.question_id)
    turn.reply(
        turn.t(
            "rp-answer-prompt",
            number=case.number,
            cell=notices.cell_name(turn.grid, cell, turn.locale),
        )
    )


async def answer_step(turn: Turn, inbound: Inbound) -> None:
    text = clean_text(inbound.text)
    if not MIN_TEXT <= len(text) <= MAX_TEXT or inbound.callback:
        turn.reply(turn.t("sv-text-needed", min=MIN_TEXT, max=MAX_TEXT))
        return
    raw = turn.dialog.data.get("question")
    try:
        question, case = await case_access.question_for(
            turn.session,
            turn.grid,
            turn.person,
            raw if isinstance(raw, int) else 0,
            now=turn.now,
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    cell = await case_actions.relay_answer(turn, turn.person, case, question, text)
    turn.dialog.clear()
    turn.reply(turn.t("rp-answer-sent", cell=notices.cell_name(turn.grid, cell, turn.locale)))


async def on_follow_up(turn: Turn, inbound: Inbound) -> None:
    press = callbacks.parse(inbound.callback)
    if not isinstance(press, callbacks.FollowUpAnswer):
        await _invalid(turn, "rp-follow-up")
        return
    try:
        granted = await case_access.authorize_by_id(
            turn.session,
            turn.grid,
            turn.person,
            press.case_id,
            Verb.ANSWER_FOLLOW_UP,
            what="rp-follow-up",
            now=turn.now,
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    case = granted.case
    await case_actions.answer_follow_up(turn, turn.person, case, fixed=press.fixed)
    turn.reply(turn.t("rp-closed" if press.fixed else "rp-reopened", number=case.number))


COMMANDS = {"start": cmd_start, "join": cmd_join, "inbox": cmd_inbox, "case": cmd_case}
CALLBACKS = {"sv:": on_button, "rq:": on_answer_button, "fu:": on_follow_up}
FLOWS = {FLOW: supervisor_step, ANSWER_FLOW: answer_step}
