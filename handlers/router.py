"""Which conversation handles an inbound event: by command, by button prefix, or by open dialog.

Each conversation module contributes three tables — COMMANDS, CALLBACKS (by data prefix) and
FLOWS (by dialog flow name) — so adding a conversation means adding a module to MODULES.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import replace
from types import ModuleType

from bot.delivery.message import choices_as_buttons
from bot.services.conversation import Turn
from handlers import resident, subscriber, supervisor
from handlers.common import typed_number
from handlers.contract import Inbound, Reply

Step = Callable[[Turn, Inbound], Awaitable[None]]

RESIDENT_COMMANDS: dict[str, Step] = {
    "start": resident.cmd_start,
    "help": resident.cmd_help,
    "language": resident.cmd_language,
    "cancel": resident.cmd_cancel,
    "report": resident.cmd_report,
    "mycases": resident.cmd_mycases,
    "case": resident.cmd_case,
}
RESIDENT_CALLBACKS: dict[str, Step] = {"lang:": resident.on_language}
RESIDENT_FLOWS: dict[str, Step] = {resident.FLOW: resident.report_step}

# Further conversations (supervisor, subscriber) register here.
MODULES: list[ModuleType] = [supervisor, subscriber]

MAX_TEXT = 4096


def _tables() -> tuple[dict[str, Step], dict[str, Step], dict[str, Step]]:
    commands, callbacks, flows = (
        dict(RESIDENT_COMMANDS),
        dict(RESIDENT_CALLBACKS),
        dict(RESIDENT_FLOWS),
    )
    for module in MODULES:
        # Later modules may take over a command (e.g. /start CODE for supervisors).
        commands.update(getattr(module, "COMMANDS", {}))
        callbacks.update(getattr(module, "CALLBACKS", {}))
        flows.update(getattr(module, "FLOWS", {}))
    return commands, callbacks, flows


async def handle(turn: Turn, inbound: Inbound) -> None:
    """The conversation entry point every channel's events go through."""
    commands, callbacks, flows = _tables()
    if inbound.text is not None and len(inbound.text) > MAX_TEXT:
        turn.reply(turn.t("input-too-long", max=MAX_TEXT))
        return
    choices = turn.person.offered_choices
    number = typed_number(inbound.text) if choices and inbound.callback is None else None
    if choices and number is not None:
        if not 1 <= number <= len(choices):
            # Offered again with the answer, so the numbers stay on screen and keep working.
            turn.reply(
                Reply(
                    turn.t("choice-out-of-range", number=number, count=len(choices)),
                    buttons=choices_as_buttons(choices),
                )
            )
            return
        # A typed number is that button's press: the same checks follow as for a tap.
        inbound = replace(inbound, text=None, callback=choices[number - 1][1])
    if (
        inbound.command is None
        and inbound.callback is None
        and not turn.dialog.active
        and resident.is_report_keyword(inbound.text)
    ):
        await resident.cmd_report(turn, inbound)
        return
    command = inbound.command
    if command is not None:
        step = commands.get(command)
        if step is None:
            turn.reply(turn.t("unknown-command", command=command[:32]))
            return
        await step(turn, inbound)
        return
    if inbound.callback is not None:
        for prefix, step in callbacks.items():
            if inbound.callback.startswith(prefix):
                await step(turn, inbound)
                return
    flow = flows.get(turn.dialog.flow) if turn.dialog.active else None
    if flow is not None:
        await flow(turn, inbound)
        return
    if inbound.callback is not None:
        turn.reply(turn.t("button-stale"))
        return
    turn.reply(turn.t("idle-hint"))
