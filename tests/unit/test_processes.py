"""The pure parts of running several processes: who is alive, what a part is, what is a send."""

from __future__ import annotations

import os
import socket

from bot.channels.telegram import sends_a_message
from bot.delivery.outbox import Parts
from bot.services.processes import alive_elsewhere_on_this_host


def test_a_predecessor_is_alive_only_when_it_is_another_running_process_of_this_host():
    host = socket.gethostname()
    assert alive_elsewhere_on_this_host(f"{host}:1:abcd1234")  # init always runs
    assert not alive_elsewhere_on_this_host(f"{host}:{os.getpid()}:abcd1234")  # ourselves
    assert not alive_elsewhere_on_this_host(f"elsewhere.example:{os.getpid()}:abcd1234")
    assert not alive_elsewhere_on_this_host(f"{host}:not-a-pid:abcd1234")


def test_only_methods_that_put_a_message_in_a_chat_take_from_the_budget():
    assert sends_a_message("sendMessage")
    assert sends_a_message("sendMediaGroup")
    assert sends_a_message("copyMessage")
    assert not sends_a_message("sendChatAction")
    assert not sends_a_message("getUpdates")
    assert not sends_a_message("answerCallbackQuery")


async def test_parts_skip_what_was_done_and_record_each_but_the_last():
    ran: list[int] = []
    recorded: list[int] = []

    def step(n: int):
        async def run() -> None:
            ran.append(n)

        return run

    async def record(done: int) -> None:
        recorded.append(done)

    parts = Parts(1, record)
    await parts.run([step(0), step(1), step(2)])
    assert ran == [1, 2]
    assert recorded == [2]
    assert parts.done == 3
