"""The supervisor's conversations: joining by invite, the inbox, one case, the case buttons.

Also the two resident-side replies the supervision feature asks for: answering a supervisor's
question (relayed anonymously) and the follow-up "is it fixed?" buttons.

Buttons carry `sv:<action>:<case id>` (and `sv:to:<case id>:<cell>`, `sv:rj:<kind>:<case id>`);
every press is checked again here against the stored case, so a stale or forged button changes
nothing but a SecurityEvent.
"""

from __future__ import annotations

import re

from bot.domain.cases import Action, Status
from bot.services import invites, notify, supervision
from bot.services.conversation import Turn
from bot.services.supervision import MAX_TEXT, MIN_TEXT, ActionRefused
from bot.storage.models import Case
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


def _parse_id(raw: str) -> int | None:
    return int(raw) if raw.isdigit() and len(raw) <= 12 else None


async def _invalid(turn: Turn, what: str) -> None:
    await supervision.record_refusal(
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
            args[name] = notify.local_time(args[name], turn.settings.timezone)
    if result.cell_code is not None:
        args["cell"] = notify.cell_name(turn.grid, result.cell_code, turn.locale)
    turn.reply(turn.t(result.key, **args))


async def cmd_inbox(turn: Turn, inbound: Inbound) -> None:
    if not await supervision.is_supervisor(turn.session, turn.person):
        turn.reply(turn.t("sv-not-supervisor"))
        return
    entries, total = await supervision.inbox(turn.session, turn.grid, turn.person, turn.now)
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
                cell=notify.cell_name(turn.grid, c.cell_code, turn.locale),
            )
        )
    if total > len(entries):
        lines.append(t("sv-inbox-more", more=total - len(entries)))
    turn.reply("\n".join(lines) + "\n\n" + t("sv-inbox-hint"))


async def cmd_case(turn: Turn, inbound: Inbound) -> None:
    """A supervisor of the case sees it whole, with its timeline; anyone else as a resident."""
    number = inbound.command_args.strip()[:20]
    case = None
    if number:
        found = await supervision.case_by_number(turn.session, number)
        if found is not None:
            mine = await supervision.cells_of(turn.session, turn.person)
            if mine & set(supervision.case_cells(turn.grid, found)):
                case = found
    if case is None:
        await resident.cmd_case(turn, inbound)
        return
    t = turn.t
    tz = turn.settings.timezone
    escalated = supervision.case_cells(turn.grid, case)[1:]
    lines = [
        t(
            "sv-case-detail",
            number=case.number,
            urgent="yes" if case.urgent else "no",
            category=t(f"category-{case.category}"),
            status=t(f"status-{case.status}"),
            cell=notify.cell_name(turn.grid, case.origin_cell_code, turn.locale),
            responsible=notify.cell_name(turn.grid, case.cell_code, turn.locale),
            escalated=" → ".join(notify.cell_name(turn.grid, c, turn.locale) for c in escalated)
            or t("sv-not-escalated"),
            description=case.description,
            reporters=case.reporter_count,
            created=notify.local_time(case.created_at, tz),
            ack_due=notify.local_time(case.ack_due_at, tz),
            resolve_due=notify.local_time(case.resolve_due_at, tz),
        ),
        "",
        t("sv-timeline-title"),
    ]
    for event in await supervision.case_timeline(turn.session, case.id):
        what = _event_text(turn, event.kind, event.from_cell, event.to_cell)
        line = f"{notify.local_time(event.at, tz)} · {what}"
        if event.note and event.kind not in {"joined", "answer"}:
            line += f" — {event.note[:200]}"
        lines.append(line)
    turn.reply(
        Reply(
            "\n".join(lines),
            buttons=supervision.action_buttons(t, case.id, case.status),
            location=notify.location_for(turn.channel, case, turn.grid),
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
    name = lambda code: notify.cell_name(turn.grid, code or "", turn.locale)  # noqa: E731
    return turn.t(key, cell=name(to_cell), **{"from": name(from_cell)})


# --- the case buttons ---------------------------------------------------------------------------


async def on_button(turn: Turn, inbound: Inbound) -> None:
    parts = (inbound.callback or "").split(":")
    # sv:<action>:<id> | sv:to:<id>:<cell> | sv:rj:<n|d>:<id>
    if len(parts) == 3 and parts[1] in supervision.BUTTON_ACTIONS:
        await _start_action(turn, parts[1], parts[2])
    elif len(parts) == 4 and parts[1] == "to":
        await _choose_transfer_target(turn, parts[2], parts[3])
    elif len(parts) == 4 and parts[1] == "rj" and parts[2] in {"n", "d"}:
        await _choose_reject_kind(turn, parts[2], parts[3])
    elif len(parts) == 2 and parts[1] == "skip" and turn.dialog.flow == FLOW:
        await supervisor_step(turn, inbound)
    else:
        await _invalid(turn, "sv-button")


async def _start_action(turn: Turn, code: str, raw_id: str) -> None:
    case_id = _parse_id(raw_id)
    if case_id is None:
        await _invalid(turn, f"sv-{code}")
        return
    try:
        case, cell = await supervision.case_for_supervisor(
            turn, turn.person, case_id, supervision.BUTTON_ACTIONS[code], what=code
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    t = turn.t
    if code == "ack":
        await supervision.acknowledge(turn, turn.person, case, cell)
        turn.dialog.clear()
        turn.reply(
            t(
                "sv-ack-done",
                number=case.number,
                resolve_due=notify.local_time(case.resolve_due_at, turn.settings.timezone),
            )
        )
    elif code == "ask":
        turn.dialog.start(FLOW, "ask", case_id=case.id)
        turn.reply(
            t(
                "sv-ask-prompt",
                number=case.number,
                cell=notify.cell_name(turn.grid, cell, turn.locale),
            )
        )
    elif code == "tr":
        options = await supervision.transfer_options(turn.session, turn.grid, case)
        if not options:
            turn.reply(t("sv-transfer-none", number=case.number))
            return
        rows = tuple(
            (Button(o.names.for_locale(turn.locale), f"sv:to:{case.id}:{o.code}"),) for o in options
        )
        turn.reply(Reply(t("sv-transfer-choose", number=case.number), buttons=rows))
    elif code == "res":
        turn.dialog.start(FLOW, "resolve-note", case_id=case.id)
        turn.reply(t("sv-resolve-note", number=case.number))
    elif code == "rej":
        turn.reply(
            Reply(
                t("sv-reject-choose", number=case.number),
                buttons=(
                    (Button(t("sv-button-not-pollution"), f"sv:rj:n:{case.id}"),),
                    (Button(t("sv-button-duplicate"), f"sv:rj:d:{case.id}"),),
                ),
            )
        )


async def _choose_transfer_target(turn: Turn, raw_id: str, to_code: str) -> None:
    case_id = _parse_id(raw_id)
    if case_id is None:
        await _invalid(turn, "sv-tr")
        return
    try:
        case, _cell = await supervision.case_for_supervisor(
            turn, turn.person, case_id, Action.TRANSFER, what="tr"
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    options = {o.code for o in await supervision.transfer_options(turn.session, turn.grid, case)}
    if to_code not in options:
        await _invalid(turn, "sv-tr")
        return
    turn.dialog.start(FLOW, "transfer-reason", case_id=case.id, to=to_code)
    turn.reply(
        turn.t(
            "sv-transfer-reason",
            number=case.number,
            cell=notify.cell_name(turn.grid, to_code, turn.locale),
        )
    )


async def _choose_reject_kind(turn: Turn, kind: str, raw_id: str) -> None:
    case_id = _parse_id(raw_id)
    if case_id is None:
        await _invalid(turn, "sv-rej")
        return
    action = Action.REJECT if kind == "n" else Action.MERGE
    try:
        case, _cell = await supervision.case_for_supervisor(
            turn, turn.person, case_id, action, what="rej"
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    if kind == "n":
        turn.dialog.start(FLOW, "reject-reason", case_id=case.id)
        turn.reply(turn.t("sv-reject-reason", number=case.number))
    else:
        turn.dialog.start(FLOW, "duplicate", case_id=case.id)
        turn.reply(turn.t("sv-duplicate-ask", number=case.number))


# --- the supervisor's dialog (typed question, reason, note, photo) ------------------------------

STEP_ACTIONS: dict[str, tuple[Action | None, str]] = {
    "ask": (None, "ask"),
    "transfer-reason": (Action.TRANSFER, "tr"),
    "resolve-note": (Action.RESOLVE, "res"),
    "resolve-photo": (Action.RESOLVE, "res"),
    "reject-reason": (Action.REJECT, "rej"),
    "duplicate": (Action.MERGE, "rej"),
}


async def supervisor_step(turn: Turn, inbound: Inbound) -> None:
    data = turn.dialog.data
    step = turn.dialog.step
    if step not in STEP_ACTIONS or not isinstance(data.get("case_id"), int):
        turn.dialog.clear()
        turn.reply(turn.t("sv-refused-invalid"))
        return
    action, what = STEP_ACTIONS[step]
    t = turn.t
    text = clean_text(inbound.text)
    if step == "resolve-photo":
        if not inbound.photo and inbound.callback != "sv:skip":
            turn.reply(
                Reply(t("sv-resolve-photo"), buttons=((Button(t("button-skip"), "sv:skip"),),))
            )
            return
    elif not MIN_TEXT <= len(text) <= MAX_TEXT or inbound.callback:
        turn.reply(t("sv-text-needed", min=MIN_TEXT, max=MAX_TEXT))
        return
    # The case may have moved on since the dialog began: check again before acting.
    try:
        case, cell = await supervision.case_for_supervisor(
            turn, turn.person, int(data["case_id"]), action, what=what
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    if step == "ask":
        await supervision.ask_reporters(turn, turn.person, case, cell, text)
        turn.dialog.clear()
        turn.reply(t("sv-ask-sent", number=case.number))
    elif step == "transfer-reason":
        to_code = str(data.get("to", ""))
        options = {
            o.code for o in await supervision.transfer_options(turn.session, turn.grid, case)
        }
        if to_code not in options:
            await _invalid(turn, "sv-tr")
            return
        await supervision.transfer(turn, turn.person, case, cell, to_code, text)
        turn.dialog.clear()
        turn.reply(
            t(
                "sv-transfer-done",
                number=case.number,
                cell=notify.cell_name(turn.grid, to_code, turn.locale),
            )
        )
    elif step == "resolve-note":
        data["note"] = text
        turn.dialog.step = "resolve-photo"
        turn.reply(Reply(t("sv-resolve-photo"), buttons=((Button(t("button-skip"), "sv:skip"),),)))
    elif step == "resolve-photo":
        await supervision.resolve(
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
        await supervision.reject(turn, turn.person, case, cell, text)
        turn.dialog.clear()
        turn.reply(t("sv-reject-done", number=case.number, reason=text))
    elif step == "duplicate":
        await _merge(turn, case, text)


async def _merge(turn: Turn, case: Case, text: str) -> None:
    t = turn.t
    match = _CASE_NUMBER.match(text)
    if match is None or len(match.group(2).strip()) < MIN_TEXT:
        turn.reply(t("sv-duplicate-format"))
        return
    number, reason = match.group(1), match.group(2).strip()
    if number == case.number:
        turn.reply(t("sv-duplicate-self"))
        return
    target = await supervision.open_case_by_number(turn.session, number)
    if target is None:
        turn.reply(t("sv-duplicate-unknown", target=number))
        return
    await supervision.merge(turn, turn.person, case, target, reason)
    turn.dialog.clear()
    turn.reply(t("sv-merge-done", number=case.number, target=target.number))


# --- the reporter's side: answering a question, the follow-up ------------------------------------


async def on_answer_button(turn: Turn, inbound: Inbound) -> None:
    event_id = _parse_id((inbound.callback or "").removeprefix("rq:"))
    if event_id is None:
        await _invalid(turn, "rp-answer")
        return
    try:
        question = await supervision.question_for_reporter(turn, turn.person, event_id)
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    cell = str((question.event.data or {}).get("cell", question.case.cell_code))
    turn.dialog.start(ANSWER_FLOW, "answer", question=event_id)
    turn.reply(
        turn.t(
            "rp-answer-prompt",
            number=question.case.number,
            cell=notify.cell_name(turn.grid, cell, turn.locale),
        )
    )


async def answer_step(turn: Turn, inbound: Inbound) -> None:
    text = clean_text(inbound.text)
    if not MIN_TEXT <= len(text) <= MAX_TEXT or inbound.callback:
        turn.reply(turn.t("sv-text-needed", min=MIN_TEXT, max=MAX_TEXT))
        return
    raw = turn.dialog.data.get("question")
    try:
        question = await supervision.question_for_reporter(
            turn, turn.person, raw if isinstance(raw, int) else 0
        )
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    cell = await supervision.relay_answer(turn, turn.person, question, text)
    turn.dialog.clear()
    turn.reply(turn.t("rp-answer-sent", cell=notify.cell_name(turn.grid, cell, turn.locale)))


async def on_follow_up(turn: Turn, inbound: Inbound) -> None:
    parts = (inbound.callback or "").split(":")
    case_id = _parse_id(parts[2]) if len(parts) == 3 and parts[1] in {"y", "n"} else None
    if case_id is None:
        await _invalid(turn, "rp-follow-up")
        return
    try:
        case = await supervision.case_for_follow_up(turn, turn.person, case_id)
    except ActionRefused as refused:
        _refuse(turn, refused)
        return
    fixed = parts[1] == "y"
    await supervision.answer_follow_up(turn, turn.person, case, fixed=fixed)
    turn.reply(turn.t("rp-closed" if fixed else "rp-reopened", number=case.number))


COMMANDS = {"start": cmd_start, "join": cmd_join, "inbox": cmd_inbox, "case": cmd_case}
CALLBACKS = {"sv:": on_button, "rq:": on_answer_button, "fu:": on_follow_up}
FLOWS = {FLOW: supervisor_step, ANSWER_FLOW: answer_step}
