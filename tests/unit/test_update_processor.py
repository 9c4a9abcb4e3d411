import asyncio

from telegram import Bot, Update

from bot.channels.telegram import PerChatUpdateProcessor

BOT = Bot("123456:TEST-token-abcdefghijklmnopqrstuvwxyz")


def update(update_id: int, chat_id: int) -> Update:
    return Update.de_json(
        {
            "update_id": update_id,
            "message": {
                "message_id": update_id,
                "date": 0,
                "chat": {"id": chat_id, "type": "private"},
                "from": {"id": chat_id, "is_bot": False, "first_name": "T"},
                "text": str(update_id),
            },
        },
        BOT,
    )


async def test_one_chats_updates_run_in_order_while_other_chats_run_alongside():
    processor = PerChatUpdateProcessor(max_concurrent_updates=16)
    order: list[tuple[int, int]] = []
    release_slow = asyncio.Event()
    running = {"max": 0, "now": 0}
    chat_200_done = asyncio.Event()

    async def work(u: Update) -> None:
        running["now"] += 1
        running["max"] = max(running["max"], running["now"])
        if u.update_id == 1:
            await release_slow.wait()  # chat 100's first update is slow
        order.append((u.effective_chat.id, u.update_id))
        running["now"] -= 1
        if [c for c, _ in order].count(200) == 2:
            chat_200_done.set()

    updates = [update(1, 100), update(2, 100), update(3, 200), update(4, 100), update(5, 200)]
    tasks = [asyncio.create_task(processor.process_update(u, work(u))) for u in updates]
    # Chat 200 finishes while chat 100 is stuck on its first update.
    await asyncio.wait_for(chat_200_done.wait(), timeout=10)
    assert order == [(200, 3), (200, 5)]
    release_slow.set()
    await asyncio.gather(*tasks)
    assert [uid for chat, uid in order if chat == 100] == [1, 2, 4]
    assert running["max"] >= 2
    assert processor._locks == {}
