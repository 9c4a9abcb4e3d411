"""Fuzz every door of a real Jingtu process with hypothesis-generated inputs; print what came back.

Doors: the Telegram webhook, Telegram polling (the fake Bot API queues raw updates), and the
WeChat webhook in safe mode (AES) and in plaintext mode. The inputs are the suite's strategies
(`tests/support/fuzzing.py`): random fields, types and sizes, Tibetan and right-to-left text,
forged ids, broken JSON and XML, bodies that are not UTF-8.

Each door gets a Jingtu of its own: the real ``python -m bot run`` as a subprocess (started as
`bench/crash.py` starts them), on an SQLite database of its own with the sample grid, against the
fake platform servers, which live in this process with hypothesis and send the inputs over
loopback HTTP. So the memory measured is Jingtu's alone, not hypothesis's record of what it drew
nor the fakes' logs.

For each door the table gives the inputs sent, the status codes seen, the 5xx count, the log
records at ERROR or above and the tracebacks in the process's log, the database changes made by
invalid inputs (must be 0), and the process's resident memory (VmRSS, and its high-water mark
VmHWM, from /proc/PID/status). "Before" is read once the process has started, answered
/healthz, and answered one valid message (a /help, its reply seen at the fake); "after" right
after the last input. The target is after ≤ 1.2 × before. VmRSS is also read after each fifth of
the inputs (``--readings N`` for more), so growth that levels off (the allocator's high-water mark) can be told from growth
that goes on (a leak).

    .venv/bin/python bench/fuzz.py                    # 10,000 inputs per door, ~15 min
    .venv/bin/python bench/fuzz.py --quick            # 1,000 per door
    .venv/bin/python bench/fuzz.py --door wechat-safe --examples 2000
    .venv/bin/python bench/fuzz.py --postgres         # Jingtu on PostgreSQL instead of SQLite
    .venv/bin/python bench/fuzz.py --tracemalloc      # and what Python allocated and kept

Exits 1 when any door saw a 5xx, an error logged, a traceback or a change from invalid input,
or when memory grew beyond 1.2×.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ipaddress
import itertools
import json
import os
import re
import signal
import sys
import tempfile
import time
import tracemalloc
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from crash import POSTGRES, SECRET, Proc, base_env, free_port, ready  # noqa: E402
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from ingest import drop_scratch, prepare_database  # noqa: E402

from bot.channels.telegram import SECRET_HEADER, WEBHOOK_PATH  # noqa: E402
from bot.channels.wechat import WEBHOOK_PATH as WECHAT_PATH  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi  # noqa: E402
from tests.fakes.wechat_server import DEFAULT_AES_KEY, FakeWeChat  # noqa: E402
from tests.support.fuzzing import database_counts, forged_updates, wechat_messages  # noqa: E402

DOORS = ["telegram-webhook", "telegram-polling", "wechat-safe", "wechat-plaintext"]
CHECKPOINTS = 5  # by default VmRSS is read after each fifth of the inputs
WARM_UP_CHAT = 555_000_001
# A log record as bot/logs.py formats it: "2026-11-30 18:44:47,123 ERROR name: message".
ERROR_RECORD = re.compile(rb"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ (?:ERROR|CRITICAL) ", re.M)
TRACEBACK = b"Traceback (most recent call last)"


@dataclass(frozen=True)
class Memory:
    """A reading of /proc/PID/status after `examples` inputs."""

    examples: int
    rss: int  # VmRSS, bytes
    hwm: int  # VmHWM, bytes


def memory_of(pid: int, examples: int) -> Memory:
    values = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            values[key] = int(rest.split()[0]) * 1024
    return Memory(examples, values["VmRSS"], values["VmHWM"])


@dataclass
class Tally:
    door: str
    examples: int = 0
    inputs: int = 0
    statuses: Counter[int] = field(default_factory=Counter)
    server_errors: int = 0
    errors_logged: int = 0
    tracebacks: int = 0
    invalid: int = 0
    invalid_changes: int = 0
    memory: list[Memory] = field(default_factory=list)  # before, then each checkpoint
    seconds: float = 0.0
    first_problems: list[str] = field(default_factory=list)
    traced_growth: str = ""  # with --tracemalloc: what Python allocated and kept

    def problem(self, text: str) -> None:
        if len(self.first_problems) < 5:
            self.first_problems.append(text[:300])

    @property
    def before(self) -> Memory:
        return self.memory[0]

    @property
    def after(self) -> Memory:
        return self.memory[-1]

    @property
    def ratio(self) -> float:
        return self.after.rss / self.before.rss

    @property
    def ok(self) -> bool:
        clean = not (
            self.server_errors or self.errors_logged or self.tracebacks or self.invalid_changes
        )
        return clean and self.ratio <= 1.2


class LogWatch:
    """Reads what a process logged since the last look: errors and tracebacks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0

    def new(self) -> tuple[int, int, bytes]:
        """(error records, tracebacks, the text) logged since the last call."""
        with self.path.open("rb") as log:
            log.seek(self.offset)
            text = log.read()
        self.offset += len(text)
        return len(ERROR_RECORD.findall(text)), text.count(TRACEBACK), text


class Sources:
    """Loopback addresses to send from, one after another.

    The webhooks throttle refusals per source address (20 a minute), as a stranger trying
    signatures would be. WeChat calls from many addresses of its own; a fuzzer calling from one
    would be shut out after 20 refused inputs and test nothing but the 429. Linux answers on all
    of 127.0.0.0/8, so each request comes from the next of 4,096 addresses; Jingtu's throttle
    remembers each of them as it would real callers.
    """

    def __init__(self, count: int = 4096) -> None:
        first = ipaddress.IPv4Address("127.1.0.1")
        self._addresses = itertools.cycle([str(first + n) for n in range(count)])

    async def post(self, url: str, query: dict[str, str], body: bytes) -> int:
        connector = aiohttp.TCPConnector(local_addr=(next(self._addresses), 0), force_close=True)
        async with (
            aiohttp.ClientSession(connector=connector) as http,
            http.post(
                f"{url}?{urlencode(query)}", data=body, headers={"Content-Type": "text/xml"}
            ) as response,
        ):
            await response.read()
            return response.status


# One input: the statuses it got (none for polling) and whether it was invalid.
Probe = Callable[[Any], Awaitable[tuple[list[int], bool]]]


@dataclass
class Door:
    """A running Jingtu process with one door open, and how to put an input through it."""

    proc: Proc
    probe: Probe
    strategy: st.SearchStrategy[Any]


def ordinary_update_id(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and 0 <= value < 10**15


def wechat_env(fake: FakeWeChat, db_url: str, workdir: Path) -> dict[str, str]:
    """A WeChat-only process: `base_env` without a bot token, with the Official Account."""
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL") if key in os.environ}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        WEB_HOST="127.0.0.1",
        JINGTU_MEDIA_DIR=str(workdir / "media"),
        JINGTU_LOG_LEVEL="WARNING",
        WECHAT_TOKEN=fake.token,
        WECHAT_APP_ID=fake.app_id,
        WECHAT_APP_SECRET=fake.app_secret,
        WECHAT_AES_KEY=fake.aes_key,
        WECHAT_API_BASE_URL=fake.base_url,
    )
    return env


async def start(proc: Proc, http: aiohttp.ClientSession, traced: bool) -> int:
    """Start the process on a port of its own; returns the port once /healthz answers.
    `traced`: with bench/memtrace first on its path, tracing its allocations (`Snapshots`)."""
    port = free_port()
    proc.env["WEB_PORT"] = str(port)
    if traced:
        snapshots = proc.workdir / "tracemalloc"
        snapshots.mkdir()
        proc.env["PYTHONPATH"] = (
            f"{ROOT / 'bench' / 'memtrace'}{os.pathsep}{proc.env['PYTHONPATH']}"
        )
        proc.env["FUZZ_TRACEMALLOC_DIR"] = str(snapshots)
    await proc.start()
    await ready(http, port)
    return port


async def telegram_webhook_door(
    db_url: str,
    workdir: Path,
    http: aiohttp.ClientSession,
    stack: contextlib.AsyncExitStack,
    traced: bool,
) -> Door:
    api = await stack.enter_async_context(FakeBotApi())
    proc = Proc("fuzz-telegram-webhook", "all", base_env(api, db_url, workdir, True), workdir)
    stack.push_async_callback(proc.stop)
    url = f"http://127.0.0.1:{await start(proc, http, traced)}{WEBHOOK_PATH}"

    async def post(body: bytes) -> int:
        async with http.post(url, data=body, headers={SECRET_HEADER: SECRET}) as response:
            await response.read()
            return response.status

    warm_up = api.user_text(WARM_UP_CHAT, "/help", language_code="en")
    assert await post(json.dumps(warm_up).encode()) == 200
    await api.wait_for_messages(WARM_UP_CHAT, 1, timeout=30)

    async def probe(case: Any) -> tuple[list[int], bool]:
        (update, forged), junk = case
        return [await post(json.dumps(update).encode()), await post(junk)], forged

    return Door(proc, probe, st.tuples(forged_updates(), st.binary(max_size=64)))


async def telegram_polling_door(
    db_url: str,
    workdir: Path,
    http: aiohttp.ClientSession,
    stack: contextlib.AsyncExitStack,
    traced: bool,
) -> Door:
    api = await stack.enter_async_context(FakeBotApi())
    proc = Proc("fuzz-telegram-polling", "all", base_env(api, db_url, workdir, False), workdir)
    stack.push_async_callback(proc.stop)
    await start(proc, http, traced)
    api.user_text(WARM_UP_CHAT, "/help", language_code="en")  # queued for getUpdates
    await api.wait_for_messages(WARM_UP_CHAT, 1, timeout=30)

    async def probe(case: Any) -> tuple[list[int], bool]:
        update, forged = case
        if ordinary_update_id(update.get("update_id")):
            del update["update_id"]  # the fake numbers it after the ones before
        api.push_update(update)
        await api.wait_until_updates_consumed(timeout=30)
        return [], forged

    return Door(proc, probe, forged_updates())


def wechat_door(safe: bool) -> Callable[..., Awaitable[Door]]:
    async def build(
        db_url: str,
        workdir: Path,
        http: aiohttp.ClientSession,
        stack: contextlib.AsyncExitStack,
        traced: bool,
    ) -> Door:
        fake = await stack.enter_async_context(FakeWeChat(aes_key=DEFAULT_AES_KEY if safe else ""))
        env = wechat_env(fake, db_url, workdir)
        proc = Proc(f"fuzz-wechat-{'safe' if safe else 'plain'}", "all", env, workdir)
        stack.push_async_callback(proc.stop)
        fake.connect(f"http://127.0.0.1:{await start(proc, http, traced)}{WECHAT_PATH}")
        assert await fake.user_text("oWarmUp", "/help") == (200, "success")
        await fake.wait_for_messages("oWarmUp", 1, timeout=30)
        assert fake.webhook_url is not None
        url = fake.webhook_url
        sources = Sources()

        async def probe(case: Any) -> tuple[list[int], bool]:
            (body, invalid), envelope = case
            query, signed = fake.signed_request(body)
            statuses = [await sources.post(url, query, signed)]
            if envelope is not None:  # a body that is no WeChat envelope, under the signature
                statuses.append(await sources.post(url, query, envelope))
            return statuses, invalid or statuses[0] != 200

        openids = st.integers(1, 200).map(lambda n: f"oFuzz_{n}")
        return Door(
            proc, probe, st.tuples(wechat_messages(openids), st.binary(max_size=64) | st.none())
        )

    return build


BUILDERS = {
    "telegram-webhook": telegram_webhook_door,
    "telegram-polling": telegram_polling_door,
    "wechat-safe": wechat_door(safe=True),
    "wechat-plaintext": wechat_door(safe=False),
}


async def snapshot(proc: Proc, n: int) -> Path:
    """Ask the traced process for its n-th snapshot (SIGUSR1) and wait until it is written."""
    assert proc.process is not None
    path = proc.workdir / "tracemalloc" / f"snapshot-{n}.pickle"
    proc.process.send_signal(signal.SIGUSR1)
    deadline = time.monotonic() + 300
    while not path.exists():
        if time.monotonic() > deadline:
            raise RuntimeError(f"{proc.name} wrote no snapshot {n}")
        await asyncio.sleep(0.2)
    return path


def growth(after: Path, top: int = 12) -> str:
    """Python memory allocated after the first snapshot and still held at `after`: in all, by
    file, and by line (tracemalloc's own frames and importlib left out)."""
    ignored = [
        tracemalloc.Filter(False, tracemalloc.__file__),
        tracemalloc.Filter(False, "<frozen importlib._bootstrap*>"),
    ]
    old = tracemalloc.Snapshot.load(str(after.with_name("snapshot-1.pickle"))).filter_traces(
        ignored
    )
    new = tracemalloc.Snapshot.load(str(after)).filter_traces(ignored)
    total = sum(stat.size_diff for stat in new.compare_to(old, "filename"))
    lines = [f"traced Python memory: {total / 2**20:+.2f} MB from before to after"]
    for key in ("filename", "lineno"):
        lines.append(f"largest growth by {key}:")
        for stat in new.compare_to(old, key)[:top]:
            where = stat.traceback[0]
            place = where.filename if key == "filename" else f"{where.filename}:{where.lineno}"
            lines.append(
                f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks  {place}"
            )
    lines.append("the largest by where it was allocated from (innermost frame last):")
    for stat in new.compare_to(old, "traceback")[:3]:
        lines.append(f"  {stat.size_diff / 1024:+9.1f} KiB {stat.count_diff:+8d} blocks")
        lines += [f"    {frame.filename}:{frame.lineno}" for frame in stat.traceback]
    return "\n".join(lines)


def run_door(
    door_name: str,
    examples: int,
    tmp: str,
    readings: int = CHECKPOINTS,
    postgres_url: str | None = None,
    traced: bool = False,
) -> Tally:
    """Fuzz one door of a fresh process, on SQLite or on a scratch database beside
    `postgres_url`; VmRSS is read `readings` times along the way."""
    tally = Tally(door_name)
    loop = asyncio.new_event_loop()
    checkpoints = {examples * k // readings for k in range(1, readings + 1)}

    async def open_door(stack: contextlib.AsyncExitStack) -> tuple[Door, Database, LogWatch]:
        name = door_name.replace("-", "_")
        db_url, scratch = await prepare_database(postgres_url, tmp, name)
        if postgres_url is not None and scratch is not None:
            stack.push_async_callback(drop_scratch, postgres_url, scratch)
        workdir = Path(tmp) / door_name
        workdir.mkdir()
        http = await stack.enter_async_context(aiohttp.ClientSession())
        door = await BUILDERS[door_name](db_url, workdir, http, stack, traced)
        database = Database.from_url(db_url)
        stack.push_async_callback(database.dispose)
        return door, database, LogWatch(door.proc.log)

    stack = contextlib.AsyncExitStack()
    log: LogWatch | None = None
    try:
        door, database, log = loop.run_until_complete(open_door(stack))
        assert door.proc.process is not None
        pid = door.proc.process.pid
        errors, tracebacks, _ = log.new()  # startup and the warm-up count too
        tally.errors_logged, tally.tracebacks = errors, tracebacks
        tally.memory.append(memory_of(pid, 0))
        if traced:  # tracing starts now, after "before" was read
            loop.run_until_complete(snapshot(door.proc, 1))

        async def one(case: Any) -> None:
            before = await database_counts(database)
            statuses, invalid = await door.probe(case)
            after = await database_counts(database)
            tally.examples += 1
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
            errors, tracebacks, text = log.new()
            if errors or tracebacks:
                tally.errors_logged += errors
                tally.tracebacks += tracebacks
                tally.problem(f"logged {text[-300:]!r} for {case!r}")
            if tally.examples in checkpoints:
                tally.memory.append(memory_of(pid, tally.examples))

        @settings(
            max_examples=examples,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        @given(case=door.strategy)
        def fuzz(case: Any) -> None:
            loop.run_until_complete(one(case))

        started = time.perf_counter()
        fuzz()
        tally.seconds = time.perf_counter() - started
        if tally.after.examples != tally.examples:  # hypothesis stopped short of a checkpoint
            tally.memory.append(memory_of(pid, tally.examples))
        if traced:
            tally.traced_growth = growth(loop.run_until_complete(snapshot(door.proc, 2)))
    finally:
        loop.run_until_complete(stack.aclose())
        loop.close()
    assert log is not None
    errors, tracebacks, text = log.new()  # what the process logged as it stopped
    tally.errors_logged += errors
    tally.tracebacks += tracebacks
    if errors or tracebacks:
        tally.problem(f"logged at stop: {text[-300:]!r}")
    return tally


def mb(value: int) -> str:
    return f"{value / 2**20:.1f}"


def table(tallies: list[Tally]) -> str:
    lines = [
        "| door | inputs | status codes seen | 5xx | errors logged | tracebacks | invalid "
        "inputs | DB changes from invalid | VmRSS before → after (MB) | ratio | "
        "VmHWM before → after (MB) | seconds |",
        "| --- | ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | ---: | --- | ---: |",
    ]
    for t in tallies:
        codes = ", ".join(f"{code}×{n}" for code, n in sorted(t.statuses.items())) or "—"
        lines.append(
            f"| {t.door} | {t.inputs:,} | {codes} | {t.server_errors} | {t.errors_logged} | "
            f"{t.tracebacks} | {t.invalid:,} | {t.invalid_changes} | {mb(t.before.rss)} → "
            f"{mb(t.after.rss)} | {t.ratio:.2f} | {mb(t.before.hwm)} → {mb(t.after.hwm)} | "
            f"{t.seconds:.0f} |"
        )
    if len(tallies) > 1:
        before = sum(t.before.rss for t in tallies)
        after = sum(t.after.rss for t in tallies)
        lines.append(
            f"| all {len(tallies)} processes | {sum(t.inputs for t in tallies):,} | | "
            f"{sum(t.server_errors for t in tallies)} | "
            f"{sum(t.errors_logged for t in tallies)} | {sum(t.tracebacks for t in tallies)} | "
            f"{sum(t.invalid for t in tallies):,} | {sum(t.invalid_changes for t in tallies)} | "
            f"{mb(before)} → {mb(after)} | {after / before:.2f} | | "
            f"{sum(t.seconds for t in tallies):.0f} |"
        )
    return "\n".join(lines)


def growth_table(tallies: list[Tally]) -> str:
    """VmRSS at each checkpoint: levelling off is the allocator's high-water mark; a steady
    climb is a leak."""
    head = " | ".join(f"after {m.examples:,}" for m in tallies[0].memory[1:])
    lines = [
        f"| door | before | {head} |",
        "| --- | " + " | ".join(["---:"] * len(tallies[0].memory)) + " |",
    ]
    for t in tallies:
        lines.append(f"| {t.door} | " + " | ".join(mb(m.rss) for m in t.memory) + " |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--examples", type=int, default=10_000, help="examples per door")
    parser.add_argument("--quick", action="store_true", help="1,000 examples per door")
    parser.add_argument("--door", choices=[*DOORS, "all"], default="all")
    parser.add_argument(
        "--postgres",
        nargs="?",
        const=POSTGRES,
        help=f"Jingtu on a scratch PostgreSQL database (beside {POSTGRES}), not SQLite",
    )
    parser.add_argument(
        "--tracemalloc",
        action="store_true",
        help="trace the process's Python allocations (bench/memtrace) and show what grew",
    )
    parser.add_argument(
        "--readings", type=int, default=CHECKPOINTS, help="VmRSS readings along the inputs"
    )
    args = parser.parse_args(argv)
    examples = 1_000 if args.quick else args.examples
    doors = DOORS if args.door == "all" else [args.door]
    tallies = []
    with tempfile.TemporaryDirectory(prefix="jingtu-fuzz-") as tmp:
        for door in doors:
            tallies.append(
                run_door(door, examples, tmp, args.readings, args.postgres, args.tracemalloc)
            )
            print(f"{door}: done in {tallies[-1].seconds:.0f} s", file=sys.stderr, flush=True)
    store = "PostgreSQL" if args.postgres else "SQLite"
    print(
        f"{examples:,} hypothesis examples per door, each door its own `python -m bot run` "
        f"on {store}"
    )
    print(table(tallies))
    print()
    print("VmRSS (MB) of each door's process as the inputs went in")
    print(growth_table(tallies))
    for t in tallies:
        if t.traced_growth:
            print(f"\n{t.door}, with tracemalloc on (its memory figures include tracing's own)")
            print(t.traced_growth)
    for t in tallies:
        for problem in t.first_problems:
            print(f"{t.door}: {problem}")
    return 0 if all(t.ok for t in tallies) else 1


if __name__ == "__main__":
    sys.exit(main())
