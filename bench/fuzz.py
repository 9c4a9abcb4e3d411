"""Fuzz every door with hypothesis-generated inputs and print what came back.

Doors: the Telegram webhook, Telegram polling (the fake Bot API queues raw updates), and the
WeChat webhook in safe mode (AES) and in plaintext mode. The inputs are the suite's strategies
(`tests/support/fuzzing.py`): random fields, types and sizes, Tibetan and right-to-left text,
forged ids, broken JSON and XML, bodies that are not UTF-8. Each door runs on its own SQLite
database with the sample grid, against the fake platform servers on loopback.

For each door the table gives the inputs sent, the status codes seen, the 5xx count, the
tracebacks (log records at ERROR or above), the database changes made by invalid inputs (must be
0) and the process's resident memory before and after (after a warm-up of 5% of the inputs, with
a garbage collection before each reading; the target is after ≤ 1.2 × before). The memory
includes hypothesis's own record of what it drew, so the ratio errs high.

    .venv/bin/python bench/fuzz.py                    # 10,000 inputs per door, ~15 min
    .venv/bin/python bench/fuzz.py --quick            # 1,000 per door
    .venv/bin/python bench/fuzz.py --door wechat-safe --examples 2000

Exits 1 when any door saw a 5xx, a traceback or a change from invalid input.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import logging
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import aiohttp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.app import Jingtu
from bot.channels.door import RefusalThrottle
from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH
from bot.commands.grid import load_sample
from bot.config import Settings
from bot.storage import migrate
from bot.storage.db import Database
from tests.fakes.telegram_api import FakeBotApi
from tests.fakes.wechat_server import DEFAULT_AES_KEY, FakeWeChat
from tests.support.clock import FakeClock
from tests.support.fuzzing import (
    ErrorRecords,
    database_counts,
    forged_updates,
    wechat_messages,
)
from tests.support.handled import HandledCounter
from tests.support.telegram_driver import SECRET, telegram_settings, webhook_app
from tests.support.wechat_driver import start_app as start_wechat_app
from tests.support.wechat_driver import wechat_settings

DOORS = ["telegram-webhook", "telegram-polling", "wechat-safe", "wechat-plaintext"]


@dataclass
class Tally:
    door: str
    inputs: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    tracebacks: int = 0
    invalid: int = 0
    invalid_changes: int = 0
    rss_before: int = 0
    rss_after: int = 0
    seconds: float = 0.0
    first_problems: list[str] = field(default_factory=list)

    def problem(self, text: str) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(text[:300])


def rss_bytes() -> int:
    gc.collect()
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) * 1024
    return 0


def ordinary_update_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15


async def sample_database(tmp: str, name: str) -> str:
    url = f"sqlite+aiosqlite:///{tmp}/{name}.db"
    database = Database.from_url(url)
    await migrate.upgrade(database)
    await load_sample(database)
    await database.dispose()
    return url


# One input: returns the statuses it got (none for polling) and whether it was invalid.
Probe = Callable[[Any], Awaitable[tuple[list[int], bool]]]


async def telegram_webhook_door(settings: Settings, clock: FakeClock, stack: list[Any]) -> Probe:
    api = FakeBotApi()
    await api.start()
    app = await webhook_app(settings, api, clock)
    stack += [app.stop, api.stop]
    url = f"http://127.0.0.1:{app.web_port}{WEBHOOK_PATH}"
    http = aiohttp.ClientSession()
    stack.insert(0, http.close)

    async def probe(case: Any) -> tuple[list[int], bool]:
        (update, forged), junk = case
        statuses = []
        for body in (json.dumps(update).encode(), junk):
            async with http.post(url, data=body, headers={SECRET_HEADER: SECRET}) as response:
                statuses.append(response.status)
        return statuses, forged

    probe.app = app  # type: ignore[attr-defined]
    probe.strategy = st.tuples(forged_updates(), st.binary(max_size=64))  # type: ignore[attr-defined]
    return probe


async def telegram_polling_door(settings: Settings, clock: FakeClock, stack: list[Any]) -> Probe:
    api = FakeBotApi()
    await api.start()
    app = Jingtu(telegram_settings(settings, api), clock=clock, on_handled=HandledCounter())
    app.attach_telegram()
    await app.start(background=False)
    stack += [app.stop, api.stop]

    async def probe(case: Any) -> tuple[list[int], bool]:
        update, forged = case
        if ordinary_update_id(update.get("update_id")):
            del update["update_id"]
        api.push_update(update)
        await api.wait_until_updates_consumed(timeout=30)
        return [], forged

    probe.app = app  # type: ignore[attr-defined]
    probe.strategy = forged_updates()  # type: ignore[attr-defined]
    return probe


def wechat_door(safe: bool) -> Callable[[Settings, FakeClock, list[Any]], Awaitable[Probe]]:
    async def build(settings: Settings, clock: FakeClock, stack: list[Any]) -> Probe:
        fake = FakeWeChat(aes_key=DEFAULT_AES_KEY if safe else "", clock=clock)
        await fake.start()
        app = await start_wechat_app(wechat_settings(settings, fake), clock, fake)
        stack += [app.stop, fake.stop]
        assert app.wechat is not None
        # Every input comes from loopback: the throttle would soon answer all of them 429.
        app.wechat.refusals = RefusalThrottle(limit=10**9)

        async def probe(case: Any) -> tuple[list[int], bool]:
            (body, invalid), envelope = case
            query, signed = fake.signed_request(body)
            statuses = [(await fake.post(query, signed)).status]
            if envelope is not None:
                statuses.append((await fake.post(query, envelope)).status)
            return statuses, invalid or statuses[0] != 200

        openids = st.integers(1, 200).map(lambda n: f"oFuzz_{n}")
        probe.app = app  # type: ignore[attr-defined]
        probe.strategy = st.tuples(  # type: ignore[attr-defined]
            wechat_messages(openids), st.binary(max_size=64) | st.none()
        )
        return probe

    return build


BUILDERS = {
    "telegram-webhook": telegram_webhook_door,
    "telegram-polling": telegram_polling_door,
    "wechat-safe": wechat_door(safe=True),
    "wechat-plaintext": wechat_door(safe=False),
}


def run_door(door: str, examples: int, tmp: str) -> Tally:
    tally = Tally(door)
    loop = asyncio.new_event_loop()
    errors = ErrorRecords()
    logging.getLogger().addHandler(errors)
    stack: list[Any] = []
    try:
        url = loop.run_until_complete(sample_database(tmp, door))
        clock = FakeClock()
        base = replace(Settings(), database_url=url)
        probe = loop.run_until_complete(BUILDERS[door](base, clock, stack))
        app: Jingtu = probe.app  # type: ignore[attr-defined]
        warm_up = max(examples // 20, 1)

        async def one(case: Any) -> None:
            before = await database_counts(app)
            statuses, invalid = await probe(case)
            after = await database_counts(app)
            tally.inputs += max(len(statuses), 1)
            tally.statuses.update(statuses)
            if any(s >= 500 for s in statuses):
                tally.server_errors += 1
                tally.problem(f"5xx {statuses} for {case!r}")
            if invalid:
                tally.invalid += 1
                if after != before:
                    tally.invalid_changes += 1
                    tally.problem(f"changed {before} → {after} for {case!r}")
            seen = len(errors.records)
            if seen > tally.tracebacks:
                tally.problem(f"ERROR {errors.records[-1].getMessage()} for {case!r}")
                tally.tracebacks = seen
            if tally.inputs and tally.rss_before == 0 and (tally.inputs >= warm_up):
                tally.rss_before = rss_bytes()

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=probe.strategy)  # type: ignore[attr-defined]
        def fuzz(case: Any) -> None:
            loop.run_until_complete(one(case))

        started = time.perf_counter()
        fuzz()
        tally.seconds = time.perf_counter() - started
        tally.rss_after = rss_bytes()
    finally:
        for close in stack:
            loop.run_until_complete(close())
        loop.close()
        logging.getLogger().removeHandler(errors)
    return tally


def table(tallies: list[Tally]) -> str:
    lines = [
        "| door | inputs | status codes seen | 5xx | tracebacks | invalid inputs | DB changes "
        "from invalid | RSS before → after (MB) | ratio | seconds |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | --- | ---: | ---: |",
    ]
    for t in tallies:
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(t.statuses.items())) or "—"
        ratio = t.rss_after / t.rss_before if t.rss_before else float("nan")
        lines.append(
            f"| {t.door} | {t.inputs:,} | {codes} | {t.server_errors} | {t.tracebacks} | "
            f"{t.invalid:,} | {t.invalid_changes} | {t.rss_before / 2**20:.1f} → "
            f"{t.rss_after / 2**20:.1f} | {ratio:.2f} | {t.seconds:.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=10_000, help="examples per door")
    parser.add_argument("--quick", action="store_true", help="1,000 examples per door")
    parser.add_argument("--door", choices=[*DOORS, "all"], default="all")
    args = parser.parse_args(argv)
    examples = 1_000 if args.quick else args.examples
    logging.basicConfig(level=logging.ERROR)  # refusals warn; only ERROR and above count
    doors = DOORS if args.door == "all" else [args.door]
    tallies = []
    with tempfile.TemporaryDirectory() as tmp:
        for door in doors:
            tallies.append(run_door(door, examples, tmp))
            print(f"{door}: done in {tallies[-1].seconds:.0f} s", file=sys.stderr, flush=True)
    print(f"{examples:,} hypothesis examples per door")
    print(table(tallies))
    for t in tallies:
        for problem in t.first_problems:
            print(f"{t.door}: {problem}")
    bad = any(t.server_errors or t.tracebacks or t.invalid_changes for t in tallies)
    memory = all(t.rss_after <= 1.2 * t.rss_before for t in tallies if t.rss_before)
    return 1 if bad or not memory else 0


if __name__ == "__main__":
    sys.exit(main())
