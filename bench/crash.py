"""Crash proof: residents file reports while Jingtu's processes are killed with SIGKILL.

Run ``.venv/bin/python bench/crash.py`` (SQLite, one process, then PostgreSQL, four), or
``--quick`` for a smoke run. Everything runs on loopback: the fake Bot API
(tests/fakes/telegram_api.py) lives in this process (for ``--broadcast``, in a process of its
own: tests/fakes/telegram_api_server.py), and Jingtu runs as real
``python -m bot run --role …`` subprocesses:

* **SQLite**: one process, ``--role all``, polling the fake (Telegram confirms an update only
  when a later getUpdates names a higher offset, so an update a killed process fetched comes
  again);
* **PostgreSQL**: four processes on a scratch database: two ``web`` (webhook mode: this script
  plays Telegram, POSTing every update to one of them with the secret header, and, as Telegram
  does, posting it again (to either) until it is answered 200), one ``sender``, one
  ``scheduler``.

N residents (default 200) file M reports (default 1,000) concurrently, each a whole dialog
(/report, group, category, description, skip photos, location, anonymity, submit; every step
waits for the bot's answer to the step before, as a person does). Each report is at a spot of
its own (3 m apart, one village), so each becomes a case of its own. One supervisor is bound to
that village by a roster (telegram_chat_id). While they file, a process picked at random is
killed with SIGKILL K times (default 3), at random moments, and restarted a second later under
the same name (what systemd's ``Restart=always``, ``RestartSec=1`` does).
``--restart-postgres`` also restarts the PostgreSQL server under load (pg_ctlcluster).

Afterwards it checks:

* every report for which a resident was told a case number exists exactly once in ``cases``
  (found by the report's own tag in its description), with that number;
* every stored case's supervisor was notified (its number in a message to the supervisor);
* duplicates: a message sent twice to a chat. A resident's dialog sends a known number of
  messages per step, and each case one notice (text and map pin) to the supervisor: anything
  beyond is a duplicate. The documented bound (README, "Deployment for a province") is what was
  in flight at each kill: the outbox rows claimed by the killed process and not yet recorded as
  sent, counted in the database right after the kill, before the restart;
* losses: a confirmed report not stored exactly once, a case whose supervisor heard nothing, a
  resident step never answered (within two minutes), and a stored case no resident was told of.

It prints a table (load, faults injected, reports confirmed, reports stored, duplicates,
losses) and exits 1 when anything was lost or the duplicates exceed their bound.

``--broadcast [N]`` instead sends one campaign run to N subscribers (100,000; 5,000 with
``--quick``) on PostgreSQL: ``web-1``, ``sender-1``, ``scheduler-1`` and ``scheduler-2``, with
``JINGTU_SEND_RATE`` = ``JINGTU_BROADCAST_RATE`` = ``--rate`` (paid broadcasts) and the fake
Bot API refusing more than that in any second. The run is fired with ``campaign send-now`` (a
scheduler leads, so the leader sends it); the scheduler sending it is SIGKILLed ``--kills``
times (2 here) and restarted a second later under its name, while 20 residents keep asking the
web process for /help, whose answers take from the same budget. The fake runs in a process of
its own, so this one's event loop (the residents, the webhook driver) cannot delay its stamps.
It checks from the fake's log
that every subscriber got the message, that the duplicates stay within README's bound
(concurrency + 2 × flush size per crash, and never more than the rows claimed at the kills), and
that no rolling second saw more sendMessage requests than the rate. For each kill it
reports how long after it the rows the killed scheduler had claimed were all sent (the restart
under its name takes them back at once, rather than after their 120 s lease).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import random
import re
import signal
import socket
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from ingest import LAT, LON, drop_scratch, prepare_database  # noqa: E402
from sqlalchemy import func, select  # noqa: E402
from wire import WireStamps  # noqa: E402

from bot.services.grid import import_roster  # noqa: E402
from bot.storage.db import Database  # noqa: E402
from bot.storage.models import Case, OutboxMessage, utcnow  # noqa: E402
from tests.fakes.telegram_api import FakeBotApi  # noqa: E402
from tests.fakes.telegram_api_server import FakeBotApiProcess  # noqa: E402

POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
SECRET = "crash-bench-webhook_0123456789"
SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
SUPERVISOR = 900_001
VILLAGE = "540202006005"  # Samzhubzê T06 Village Grid 005, around (LAT, LON)
FIRST_RESIDENT = 700_000
STEP_TIMEOUT = 120.0  # seconds a resident waits for an answer before counting the step lost
NUMBER_RE = re.compile(r"\b(\d{4}-\d{5})\b")
TAG_RE = re.compile(r"bench report (\d+)\b")

JSON = dict[str, Any]
Match = Callable[[JSON], bool]


def has_button(data: str) -> Match:
    def match(message: JSON) -> bool:
        markup = message.get("reply_markup") or {}
        rows = markup.get("inline_keyboard", []) if isinstance(markup, dict) else []
        return any(button.get("callback_data") == data for row in rows for button in row)

    return match


def has_text(part: str) -> Match:
    return lambda message: part in (message.get("text") or "")


@dataclass(frozen=True)
class Step:
    """What the resident does, what answer they wait for, and how many messages it brings."""

    act: Callable[[FakeBotApi, int, int], JSON]
    answer: Match
    messages: int = 1


def spot(rid: int) -> tuple[float, float]:
    """A spot of its own for each report: 3 m apart, 40 to a column, inside one village."""
    return LAT + (rid % 40) * 0.00003, LON + (rid // 40) * 0.00003


STEPS: tuple[Step, ...] = (
    Step(lambda api, u, r: api.user_text(u, "/report", language_code="en"), has_button("r:g:air")),
    Step(lambda api, u, r: api.user_callback(u, "r:g:air"), has_button("r:c:air-dust")),
    Step(lambda api, u, r: api.user_callback(u, "r:c:air-dust"), has_text("Please describe")),
    Step(
        lambda api, u, r: api.user_text(u, f"Dust across the road, bench report {r}"),
        has_button("r:ph:done"),
    ),
    # The location question, then "👇" with the picker button: two messages.
    Step(lambda api, u, r: api.user_callback(u, "r:ph:done"), has_button("r:loc:pick"), 2),
    Step(lambda api, u, r: api.user_location(u, *spot(r)), has_button("r:anon:1")),
    Step(lambda api, u, r: api.user_callback(u, "r:anon:1"), has_button("r:ok")),
    Step(lambda api, u, r: api.user_callback(u, "r:ok"), has_text("Case number: ")),
)


# ---------------------------------------------------------------------------------- processes


@dataclass
class Proc:
    """One `python -m bot run --role ROLE` under a fixed JINGTU_PROCESS_NAME."""

    name: str
    role: str
    env: dict[str, str]
    workdir: Path
    process: asyncio.subprocess.Process | None = None
    starts: int = 0

    @property
    def log(self) -> Path:
        return self.workdir / f"{self.name}.log"

    async def start(self) -> None:
        with self.log.open("ab") as out:
            self.process = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "bot",
                "run",
                "--role",
                self.role,
                env={**self.env, "JINGTU_PROCESS_NAME": self.name},
                cwd=self.workdir,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=out,
                stderr=asyncio.subprocess.STDOUT,
            )
        self.starts += 1

    async def kill(self) -> int:
        """SIGKILL; returns the pid that died."""
        assert self.process is not None
        pid = self.process.pid
        self.process.send_signal(signal.SIGKILL)
        await self.process.wait()
        return pid

    async def stop(self) -> None:
        if self.process is None or self.process.returncode is not None:
            return
        self.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(self.process.wait(), 30)
        except TimeoutError:
            self.process.kill()
            await self.process.wait()


def cpu_seconds(proc: Proc) -> float:
    """User and system CPU seconds the process has used so far (Linux /proc)."""
    if proc.process is None or proc.process.returncode is not None:
        return 0.0
    fields = Path(f"/proc/{proc.process.pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


class BotApiAddress(Protocol):
    """Where Jingtu finds the fake Bot API: in this process or in one of its own."""

    @property
    def token(self) -> str: ...
    @property
    def base_url(self) -> str: ...
    @property
    def base_file_url(self) -> str: ...


def base_env(api: BotApiAddress, db_url: str, workdir: Path, webhook: bool) -> dict[str, str]:
    env = {key: os.environ[key] for key in ("PATH", "HOME", "LANG", "LC_ALL") if key in os.environ}
    env.update(
        PYTHONPATH=str(ROOT),
        DATABASE_URL=db_url,
        TELEGRAM_BOT_TOKEN=api.token,
        TELEGRAM_BASE_URL=api.base_url,
        TELEGRAM_BASE_FILE_URL=api.base_file_url,
        TELEGRAM_MODE="webhook" if webhook else "polling",
        WEB_HOST="127.0.0.1",
        WEB_PORT="0",
        JINGTU_MEDIA_DIR=str(workdir / "media"),
        JINGTU_LOG_LEVEL="WARNING",
        JINGTU_REPORT_RATE_PER_HOUR="1000",
        JINGTU_DUPLICATE_RADIUS_M="1",  # every report a case of its own
        JINGTU_SEND_RATE="1000",  # the fake sets no flood limit; the budget is not measured here
    )
    if webhook:
        env.update(
            TELEGRAM_WEBHOOK_SECRET=SECRET,
            TELEGRAM_WEBHOOK_URL="https://jingtu.example.org/telegram/webhook",
        )
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


# ---------------------------------------------------------------------------------- the run


@dataclass
class Fault:
    what: str
    at_confirmed: int
    in_flight: int  # outbox rows the dead process had claimed and not recorded as sent


@dataclass
class Tally:
    confirmed: dict[int, str] = field(default_factory=dict)  # report id -> case number told
    started: dict[int, int] = field(default_factory=dict)  # resident -> expected messages
    stalled: list[tuple[int, int]] = field(default_factory=list)  # (report id, step)
    redelivered: int = 0  # webhook POSTs that had to be made again
    faults: list[Fault] = field(default_factory=list)
    progress: asyncio.Condition = field(default_factory=asyncio.Condition)

    async def confirm(self, rid: int, number: str) -> None:
        async with self.progress:
            self.confirmed[rid] = number
            self.progress.notify_all()

    async def reach(self, count: int) -> None:
        async with self.progress:
            await self.progress.wait_for(lambda: len(self.confirmed) >= count)


class Telegram:
    """How updates reach Jingtu: queued for getUpdates, or POSTed to a web process's webhook
    until one answers 200, as Telegram delivers them."""

    def __init__(self, api: BotApiAddress, web: list[Proc], tally: Tally) -> None:
        self.api = api
        self.web = web
        self.tally = tally
        self.http: aiohttp.ClientSession | None = None
        self.ports: dict[str, int] = {}

    async def deliver(self, update: JSON) -> None:
        if not self.web:
            return  # polling: the update waits in the fake's queue until confirmed
        assert self.http is not None
        attempt = random.randrange(len(self.web))
        while True:
            proc = self.web[attempt % len(self.web)]
            port = self.ports.get(proc.name)
            if port is not None:
                try:
                    async with self.http.post(
                        f"http://127.0.0.1:{port}/telegram/webhook",
                        json=update,
                        headers={SECRET_HEADER: SECRET},
                        timeout=aiohttp.ClientTimeout(total=60),
                    ) as response:
                        await response.read()
                        if response.status == 200:
                            return
                except (aiohttp.ClientError, TimeoutError):
                    pass
            self.tally.redelivered += 1
            attempt += 1
            await asyncio.sleep(0.2)


async def ready(http: aiohttp.ClientSession, port: int, within: float = 60.0) -> None:
    """Wait until a web process answers /healthz."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        with contextlib.suppress(aiohttp.ClientError, TimeoutError):
            async with http.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        await asyncio.sleep(0.2)
    raise RuntimeError(f"no web process answered on port {port} within {within:.0f} s")


async def answer(api: FakeBotApi, chat: int, before: int, match: Match) -> JSON | None:
    """Wait for a message after the first `before` in the chat that `match`es."""
    deadline = time.monotonic() + STEP_TIMEOUT
    while True:
        sent = api.sent_to(chat)
        found = next((m for m in sent[before:] if match(m)), None)
        if found is not None:
            return found
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            return None
        try:
            await api.wait_for_messages(chat, len(sent) + 1, timeout=min(remaining, 5.0))
        except AssertionError:
            continue


async def resident(
    api: FakeBotApi, telegram: Telegram, chat: int, reports: Any, tally: Tally
) -> None:
    tally.started[chat] = 0
    for rid in reports:
        got: JSON | None = None
        for number, step in enumerate(STEPS):
            before = len(api.sent_to(chat))
            await telegram.deliver(step.act(api, chat, rid))
            got = await answer(api, chat, before, step.answer)
            if got is None:
                tally.stalled.append((rid, number))
                return
            tally.started[chat] += step.messages
        assert got is not None
        told = NUMBER_RE.search(got.get("text") or "")
        assert told is not None, got
        await tally.confirm(rid, told[1])


async def in_flight(db_url: str, pid: int) -> int:
    """Outbox rows the process `pid` of this host claimed and never recorded as sent."""
    database = Database.from_url(db_url)
    try:
        async with database.reader() as session:
            count = await session.scalar(
                select(func.count())
                .select_from(OutboxMessage)
                .where(
                    OutboxMessage.status == "sending",
                    OutboxMessage.claimed_by.like(f"{socket.gethostname()}:{pid}:%"),
                )
            )
            return int(count or 0)
    finally:
        await database.dispose()


async def restart_postgres() -> None:
    clusters = sorted(os.listdir("/etc/postgresql"))
    version = clusters[-1]
    proc = await asyncio.create_subprocess_exec("pg_ctlcluster", version, "main", "restart")
    if await proc.wait() != 0:
        raise RuntimeError(f"pg_ctlcluster {version} main restart failed")


async def chaos(
    procs: list[Proc],
    db_url: str,
    tally: Tally,
    moments: list[tuple[int, str]],
) -> None:
    """At each (confirmed count, kind): SIGKILL a random process and restart it a second later
    ("kill"), or restart PostgreSQL ("postgres")."""
    for at, kind in moments:
        await tally.reach(at)
        await asyncio.sleep(random.uniform(0.0, 0.5))  # a random moment, not a step boundary
        confirmed = len(tally.confirmed)
        if kind == "postgres":
            started, wall = time.monotonic(), time.strftime("%H:%M:%S UTC", time.gmtime())
            await restart_postgres()
            took = time.monotonic() - started
            tally.faults.append(
                Fault(f"PostgreSQL restarted at {wall} ({took:.1f} s)", confirmed, 0)
            )
            continue
        victim = random.choice(procs)
        pid = await victim.kill()
        flying = await in_flight(db_url, pid)
        tally.faults.append(Fault(f"SIGKILL {victim.name}", confirmed, flying))
        await asyncio.sleep(1.0)  # systemd's RestartSec=1
        await victim.start()


@dataclass
class Result:
    label: str
    residents: int
    reports: int
    seconds: float
    faults: list[Fault]
    planned_faults: int
    confirmed: int
    stored: int
    wrong: int  # confirmed reports not stored exactly once under the number told
    twice: int  # reports stored as more than one case
    untold: int  # stored cases whose resident was never told (a step unanswered)
    unnotified: int
    stalled: int
    duplicates: int
    resident_duplicates: int
    supervisor_duplicates: int
    redelivered: int
    tracebacks: int
    filing_seconds: float = 0.0  # until the last resident was told their case number
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds of each process by then

    @property
    def bound(self) -> int:
        return sum(f.in_flight for f in self.faults)

    @property
    def losses(self) -> int:
        return self.wrong + self.twice + self.unnotified + self.stalled

    @property
    def ok(self) -> bool:
        return (
            self.losses == 0
            and self.duplicates <= self.bound
            and self.confirmed == self.reports
            and len(self.faults) == self.planned_faults
        )


ROSTER = "cell_code,name,phone,telegram_chat_id,wechat_openid\n{cell},Crash Bench,,{chat},\n"


async def outbox_settled(db_url: str, within: float) -> bool:
    """Wait until no outbox row is waiting to be sent (taken-back rows included)."""
    database = Database.from_url(db_url)
    deadline = time.monotonic() + within
    try:
        while time.monotonic() < deadline:
            with contextlib.suppress(Exception):  # PostgreSQL may be restarting
                async with database.reader() as session:
                    waiting = await session.scalar(
                        select(func.count())
                        .select_from(OutboxMessage)
                        .where(OutboxMessage.status.in_(("pending", "sending")))
                    )
                if not waiting:
                    return True
            await asyncio.sleep(0.5)
        return False
    finally:
        await database.dispose()


async def stored_cases(db_url: str) -> list[tuple[str, str]]:
    database = Database.from_url(db_url)
    try:
        async with database.reader() as session:
            rows = await session.execute(select(Case.number, Case.description))
            return [(number, description) for number, description in rows]
    finally:
        await database.dispose()


async def wait_for_notices(api: FakeBotApi, numbers: set[str], within: float) -> None:
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        sent = api.sent_to(SUPERVISOR)
        told = {n for m in sent for n in NUMBER_RE.findall(m.get("text") or "")}
        if numbers <= told:
            return
        with contextlib.suppress(AssertionError):
            await api.wait_for_messages(SUPERVISOR, len(sent) + 1, timeout=5.0)


async def run(
    store: str,
    residents: int,
    reports: int,
    kills: int,
    postgres_restarts: int = 0,
    *,
    postgres_url: str = POSTGRES,
    seed: int = 12,
    web: int = 2,
) -> Result:
    """One run; `web` is how many web processes the PostgreSQL layout has (bench/ingest.py
    --processes uses it with no faults)."""
    rng = random.Random(seed)
    random.seed(seed)
    postgres = store == "postgres"
    with tempfile.TemporaryDirectory(prefix="jingtu-crash-") as tmp:
        workdir = Path(tmp)
        db_url, scratch = await prepare_database(postgres_url if postgres else None, tmp, "crash")
        try:
            database = Database.from_url(db_url)
            await import_roster(database, ROSTER.format(cell=VILLAGE, chat=SUPERVISOR))
            await database.dispose()
            async with FakeBotApi() as api:
                env = base_env(api, db_url, workdir, webhook=postgres)
                layout = (
                    [(f"web-{i + 1}", "web") for i in range(web)]
                    + [("sender-1", "sender"), ("scheduler-1", "scheduler")]
                    if postgres
                    else [("all-1", "all")]
                )
                procs = [Proc(name, role, dict(env), workdir) for name, role in layout]
                tally = Tally()
                web = [p for p in procs if p.role == "web"]
                telegram = Telegram(api, web, tally)
                for proc in web:
                    port = free_port()
                    proc.env["WEB_PORT"] = str(port)
                    telegram.ports[proc.name] = port
                for proc in procs:
                    await proc.start()
                low, high = max(1, reports // 10), max(1, reports * 6 // 10)
                moments = sorted(
                    [(rng.randint(low, high), "kill") for _ in range(kills)]
                    + [(rng.randint(low, high), "postgres") for _ in range(postgres_restarts)]
                )
                async with aiohttp.ClientSession() as http:
                    for port in telegram.ports.values():
                        await ready(http, port)
                    started = time.monotonic()
                    telegram.http = http
                    faults = asyncio.create_task(chaos(procs, db_url, tally, moments))
                    ids = iter(range(reports))
                    await asyncio.gather(
                        *(
                            resident(api, telegram, FIRST_RESIDENT + i, ids, tally)
                            for i in range(residents)
                        )
                    )
                    filing = time.monotonic() - started
                    cpu = {proc.name: cpu_seconds(proc) for proc in procs}
                    if not faults.done():  # residents stalled before every fault was due
                        faults.cancel()
                    with contextlib.suppress(asyncio.CancelledError):
                        await faults
                    for proc in procs:  # one cancelled between its kill and its restart
                        if proc.process is None or proc.process.returncode is not None:
                            await proc.start()
                    cases = await stored_cases(db_url)
                    await wait_for_notices(api, {number for number, _ in cases}, STEP_TIMEOUT)
                    await outbox_settled(db_url, 60.0)
                seconds = time.monotonic() - started
                for proc in procs:
                    await proc.stop()
                result = check(api, tally, cases, residents, reports, len(moments), seconds)
                result.filing_seconds, result.cpu = filing, cpu
                result.tracebacks = sum(
                    proc.log.read_text(errors="replace").count("Traceback") for proc in procs
                )
                result.label = (
                    "PostgreSQL, 4 processes (2 web, sender, scheduler), webhook"
                    if postgres
                    else "SQLite, 1 process (--role all), polling"
                )
                for proc in procs:  # what logged each traceback, and what it ended with
                    logged = proc.log.read_text(errors="replace").splitlines()
                    for i, line in enumerate(logged):
                        if line.startswith("Traceback"):
                            end = next(
                                (
                                    j
                                    for j in range(i + 1, len(logged))
                                    if not logged[j][:1].isspace()
                                ),
                                len(logged) - 1,
                            )
                            print(f"{proc.name}: {logged[i - 1] if i else ''}")
                            print(f"  ... {logged[end]}")
                return result
        finally:
            if scratch is not None:
                await drop_scratch(postgres_url, scratch)


def check(
    api: FakeBotApi,
    tally: Tally,
    cases: list[tuple[str, str]],
    residents: int,
    reports: int,
    planned: int,
    seconds: float,
) -> Result:
    by_report: dict[int, list[str]] = {}
    for number, description in cases:
        tag = TAG_RE.search(description)
        if tag is not None:
            by_report.setdefault(int(tag[1]), []).append(number)
    wrong = sum(1 for rid, number in tally.confirmed.items() if by_report.get(rid) != [number])
    twice = sum(len(numbers) - 1 for numbers in by_report.values() if len(numbers) > 1)
    untold = sum(1 for rid in by_report if rid not in tally.confirmed)
    notices = api.sent_to(SUPERVISOR)
    told = {n for m in notices for n in NUMBER_RE.findall(m.get("text") or "")}
    unnotified = sum(1 for number, _ in cases if number not in told)
    # A message is a duplicate when its chat got more than the dialog sends: residents by the
    # count of messages each answered step brings, the supervisor by text and map pin (each
    # case's are its own).
    resident_dups = sum(
        max(0, len(api.sent_to(chat)) - expected) for chat, expected in tally.started.items()
    )
    seen = Counter((m.get("text") or "", str(m.get("location") or "")) for m in notices)
    supervisor_dups = sum(count - 1 for count in seen.values())
    return Result(
        label="",
        residents=residents,
        reports=reports,
        seconds=seconds,
        faults=tally.faults,
        planned_faults=planned,
        confirmed=len(tally.confirmed),
        stored=len(cases),
        wrong=wrong,
        twice=twice,
        untold=untold,
        unnotified=unnotified,
        stalled=len(tally.stalled),
        duplicates=resident_dups + supervisor_dups,
        resident_duplicates=resident_dups,
        supervisor_duplicates=supervisor_dups,
        redelivered=tally.redelivered,
        tracebacks=0,
    )


def table(results: list[Result]) -> str:
    lines = [
        "| run | load | faults injected | reports confirmed | reports stored "
        "| duplicates (bound) | losses |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    for r in results:
        kinds = Counter(
            "PostgreSQL restart" if f.what.startswith("PostgreSQL") else "SIGKILL" for f in r.faults
        )
        faults = ", ".join(f"{n} {kind}" for kind, n in kinds.items()) or "none"
        lines.append(
            f"| {r.label} | {r.residents} residents, {r.reports} reports "
            f"({r.reports * len(STEPS)} steps) in {r.seconds:.0f} s | {faults} "
            f"| {r.confirmed} | {r.stored} | {r.duplicates} (≤ {r.bound}) | {r.losses} |"
        )
    lines.append("")
    for r in results:
        lines.append(f"{r.label}:")
        for f in r.faults:
            lines.append(
                f"  {f.what} after {f.at_confirmed} confirmed reports; "
                f"{f.in_flight} outbox rows in flight"
            )
        lines.append(
            f"  duplicates: {r.resident_duplicates} to residents, {r.supervisor_duplicates} to "
            f"the supervisor; cases stored twice: {r.twice}; confirmed but not stored as told: "
            f"{r.wrong}; supervisor never told: {r.unnotified}; steps unanswered: {r.stalled}; "
            f"stored but never told: {r.untold}; webhook posts made again: {r.redelivered}; "
            f"tracebacks in the logs: {r.tracebacks}; " + ("PASS" if r.ok else "FAIL")
        )
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- the leader


@dataclass
class LeaderResult:
    kills: list[tuple[str, float | None]]  # (who was killed, seconds until another led)
    fires: list[str]  # every run's fire time, in order
    minutes: int  # the minutes from the first fire to the last

    @property
    def twice(self) -> int:
        return len(self.fires) - len(set(self.fires))

    @property
    def missed(self) -> int:
        return self.minutes - len(set(self.fires))

    @property
    def ok(self) -> bool:
        return (
            self.twice == 0
            and self.missed == 0
            and all(t is not None and t <= TAKEOVER_SECONDS for _, t in self.kills)
        )


TAKEOVER_SECONDS = 35.0  # README: the lease (30 s) plus one tick (5 s)


async def leader_state(db_url: str) -> tuple[str | None, list[str]]:
    """(the holder of the scheduler lease, every campaign run's fire time)."""
    from bot.services.outreach import LEASE_NAME
    from bot.storage.models import CampaignRun, LeaderLock

    database = Database.from_url(db_url)
    try:
        async with database.reader() as session:
            lock = await session.get(LeaderLock, LEASE_NAME)
            keys = (
                await session.scalars(select(CampaignRun.fire_key).order_by(CampaignRun.id))
            ).all()
        return (
            lock.holder if lock is not None and lock.expires_at > utcnow() else None,
            [key.rpartition(":")[2] for key in keys if key],
        )
    finally:
        await database.dispose()


async def leader(kills: int, minutes: int, postgres_url: str, seed: int) -> LeaderResult:
    """Two scheduler processes and a schedule due every minute; the leader is killed `kills`
    times, each a random moment after a fire; each minute must fire exactly once, and another
    process must lead within TAKEOVER_SECONDS of each kill."""
    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="jingtu-leader-") as tmp:
        workdir = Path(tmp)
        db_url, scratch = await prepare_database(postgres_url, tmp, "leader")
        assert scratch is not None
        try:
            async with FakeBotApi() as api:
                env = base_env(api, db_url, workdir, webhook=False)
                env["JINGTU_QUIET_HOURS"] = "off"  # a bench runs at any hour
                schedule = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "campaign",
                    "schedule",
                    "nyang-river",
                    "--cron",
                    "* * * * *",
                    "--param",
                    "date=12月1日",
                    "--allow-empty",
                    env=env,
                    cwd=workdir,
                    stdout=asyncio.subprocess.DEVNULL,
                )
                if await schedule.wait() != 0:
                    raise RuntimeError("could not schedule the campaign")
                procs = [
                    Proc(name, "scheduler", dict(env), workdir)
                    for name in ("scheduler-1", "scheduler-2")
                ]
                for proc in procs:
                    await proc.start()
                killed: list[tuple[str, float | None]] = []
                for _ in range(kills):
                    fired = len((await leader_state(db_url))[1])
                    for _tick in range(240):  # the next fire (one a minute)
                        if len((await leader_state(db_url))[1]) > fired:
                            break
                        await asyncio.sleep(0.5)
                    await asyncio.sleep(rng.uniform(0.0, 30.0))
                    holder, _ = await leader_state(db_url)
                    victim = next(
                        p for p in procs if p.process and holder and f":{p.process.pid}:" in holder
                    )
                    await victim.kill()
                    died = time.monotonic()
                    await asyncio.sleep(1.0)
                    await victim.start()
                    took: float | None = None
                    while time.monotonic() - died < 90:
                        now_holder, _ = await leader_state(db_url)
                        if now_holder is not None and now_holder != holder:
                            took = time.monotonic() - died
                            break
                        await asyncio.sleep(0.25)
                    killed.append((victim.name, took))
                for _tick in range(minutes * 70):  # until `minutes` distinct fires
                    if len(set((await leader_state(db_url))[1])) >= minutes:
                        break
                    await asyncio.sleep(1.0)
                for proc in procs:
                    await proc.stop()
                fires = (await leader_state(db_url))[1]
        finally:
            await drop_scratch(postgres_url, scratch)
    stamps = sorted(datetime.strptime(f, "%Y%m%dT%H%M%SZ") for f in set(fires))
    span = int((stamps[-1] - stamps[0]).total_seconds() // 60) + 1 if stamps else 0
    return LeaderResult(killed, fires, span)


def leader_table(r: LeaderResult) -> str:
    lines = [
        "| schedule | leader killed | another leads after | fires | minutes spanned "
        "| fired twice | missed |",
        "| --- | --- | --- | ---: | ---: | ---: | ---: |",
    ]
    took = ", ".join(f"{t:.1f} s" if t is not None else "never" for _, t in r.kills)
    lines.append(
        f"| every minute, 2 scheduler processes | {len(r.kills)} × SIGKILL "
        f"({', '.join(name for name, _ in r.kills)}) | {took} (≤ {TAKEOVER_SECONDS:.0f} s) "
        f"| {len(r.fires)} | {r.minutes} | {r.twice} | {r.missed} |"
    )
    lines.append("PASS" if r.ok else "FAIL")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- a broadcast


FIRST_SUBSCRIBER = 1_000_000
FIRST_CHATTER = 800_000
CHATTERS = 20


@dataclass
class BroadcastKill:
    victim: str
    at_sent: int  # campaign messages the fake had received by then
    claimed: int  # the run's rows `sending` right after the kill: all a restart can send again
    # Seconds from the kill until the first, and until the last, of the rows claimed then was
    # sent again (None: not within the run). The last may wait for the drain's next pass: a row
    # refused with 429 meanwhile is retried after the rows still to come.
    resumed: float | None = None
    recovered: float | None = None


@dataclass
class BroadcastResult:
    subscribers: int
    rate: float
    seconds: float
    kills: list[BroadcastKill]
    planned_kills: int
    reached: int
    duplicates: int
    doc_bound: int  # README: concurrency + 2 x flush size, per crash
    busiest: int  # most message requests in any rolling second at the fake's stamps
    busiest_on_wire: int | None  # the same by the kernel's stamps (bench/wire.py), as root
    refused: int  # 429s from the fake
    replies: int  # /help answers the web process sent during the broadcast
    tracebacks: int

    @property
    def ok(self) -> bool:
        return (
            self.reached == self.subscribers
            and self.duplicates <= min(self.doc_bound * len(self.kills), self.claimed)
            and self.counted_busiest <= self.rate
            and len(self.kills) == self.planned_kills
        )

    @property
    def claimed(self) -> int:
        return sum(k.claimed for k in self.kills)

    @property
    def counted_busiest(self) -> int:
        """What the budget is held to: the wire's count when it could be read, as a platform's
        front end counts; else the fake's stamps, which a stalled fake bunches."""
        return self.busiest if self.busiest_on_wire is None else self.busiest_on_wire


async def run_state(db_url: str, run_id: int) -> tuple[str, int]:
    """(the run's status, its rows claimed and not recorded)."""
    from bot.storage.models import CampaignRun, Delivery

    database = Database.from_url(db_url)
    try:
        async with database.reader() as session:
            run = await session.get(CampaignRun, run_id)
            claimed = await session.scalar(
                select(func.count())
                .select_from(Delivery)
                .where(Delivery.run_id == run_id, Delivery.status == "sending")
            )
            return (run.status if run is not None else "missing"), int(claimed or 0)
    finally:
        await database.dispose()


async def claimed_rows(db_url: str, run_id: int) -> list[int]:
    """The run's rows `sending` now (right after a kill: those the killed process held)."""
    from bot.storage.models import Delivery

    database = Database.from_url(db_url)
    try:
        async with database.reader() as session:
            rows = await session.scalars(
                select(Delivery.id).where(Delivery.run_id == run_id, Delivery.status == "sending")
            )
            return list(rows.all())
    finally:
        await database.dispose()


async def recovery(db_url: str, ids: list[int], kill: BroadcastKill, killed_at: float) -> None:
    """Record on `kill` when the first and the last of `ids` (the rows claimed by the killed
    process) were sent, in seconds after `killed_at` (monotonic)."""
    from bot.storage.models import Delivery

    database = Database.from_url(db_url)
    try:
        for _tick in range(4 * 600):
            async with database.reader() as session:
                waiting = await session.scalar(
                    select(func.count())
                    .select_from(Delivery)
                    .where(Delivery.id.in_(ids), Delivery.status.in_(("pending", "sending")))
                )
            if kill.resumed is None and (waiting or 0) < len(ids):
                kill.resumed = time.monotonic() - killed_at
            if not waiting:
                kill.recovered = time.monotonic() - killed_at
                return
            await asyncio.sleep(0.25)
    finally:
        await database.dispose()


async def chatter(
    api: FakeBotApiProcess, telegram: Telegram, chat: int, done: asyncio.Event
) -> int:
    """A resident asking for /help again and again while the broadcast goes on: replies
    the web process sends through the same budget. Returns the answers received."""
    answered = 0
    while not done.is_set():
        before = await api.sent_count(chat)
        await telegram.deliver(await api.user_text(chat, "/help", language_code="en"))
        if await api.wait_for_messages(chat, before + 1, timeout=STEP_TIMEOUT):
            answered += 1
    return answered


async def broadcast(
    subscribers: int, kills: int, rate: float, postgres_url: str, seed: int
) -> BroadcastResult:
    """One campaign run to `subscribers` on PostgreSQL (web, sender, two schedulers), the
    process sending it (the scheduler leader) SIGKILLed `kills` times at random moments and
    restarted a second later under its name, while a web process answers residents through
    the same send budget."""
    from broadcast import add_subscribers

    from bot.delivery.broadcast import concurrency_for, flush_size_for

    rng = random.Random(seed)
    with tempfile.TemporaryDirectory(prefix="jingtu-bcast-") as tmp:
        workdir = Path(tmp)
        db_url, scratch = await prepare_database(postgres_url, tmp, "bcast")
        assert scratch is not None
        procs: list[Proc] = []
        try:
            database = Database.from_url(db_url)
            seeded = time.monotonic()
            await add_subscribers(database, subscribers, FIRST_SUBSCRIBER)
            await database.dispose()
            print(f"seeded {subscribers:,} subscribers in {time.monotonic() - seeded:.1f} s")
            # The fake in a process of its own: sharing this one's event loop with the residents,
            # it stamped requests late, in bursts, overstating the busiest second.
            async with (
                FakeBotApiProcess(global_per_second=rate) as api,
                wire_stamps(api.base_url) as wire,
            ):
                env = base_env(api, db_url, workdir, webhook=True)
                env.update(
                    JINGTU_SEND_RATE=f"{rate:g}",
                    JINGTU_BROADCAST_RATE=f"{rate:g}",
                    JINGTU_PAID_BROADCAST="true",
                    JINGTU_QUIET_HOURS="off",  # a bench runs at any hour
                )
                layout = [
                    ("web-1", "web"),
                    ("sender-1", "sender"),
                    ("scheduler-1", "scheduler"),
                    ("scheduler-2", "scheduler"),
                ]
                procs.extend(Proc(name, role, dict(env), workdir) for name, role in layout)
                web = [p for p in procs if p.role == "web"]
                telegram = Telegram(api, web, Tally())
                for proc in web:
                    port = free_port()
                    proc.env["WEB_PORT"] = str(port)
                    telegram.ports[proc.name] = port
                for proc in procs:
                    await proc.start()
                for _tick in range(120):  # until a scheduler leads
                    if (await leader_state(db_url))[0] is not None:
                        break
                    await asyncio.sleep(0.5)
                fire = await asyncio.create_subprocess_exec(
                    sys.executable,
                    "-m",
                    "bot",
                    "campaign",
                    "send-now",
                    "nyang-river",
                    "--param",
                    "date=12月1日",
                    env=env,
                    cwd=workdir,
                    stdout=asyncio.subprocess.PIPE,
                )
                said, _ = await fire.communicate()
                print(said.decode().strip())
                if fire.returncode != 0:
                    raise RuntimeError("campaign send-now failed")
                found = re.search(r"run (\d+)", said.decode())
                assert found is not None
                run_id = int(found[1])
                done = asyncio.Event()
                killed: list[BroadcastKill] = []
                watches: list[asyncio.Task[None]] = []
                async with aiohttp.ClientSession() as http:
                    for port in telegram.ports.values():
                        await ready(http, port)
                    telegram.http = http
                    started = time.monotonic()
                    chatters = [
                        asyncio.create_task(chatter(api, telegram, FIRST_CHATTER + i, done))
                        for i in range(CHATTERS)
                    ]
                    # One kill in each of `kills` equal stretches of 10 %..70 % of the sends.
                    span = subscribers * 6 // 10 // max(kills, 1)
                    moments = [
                        subscribers // 10 + i * span + rng.randrange(max(span, 1))
                        for i in range(kills)
                    ]
                    for at in moments:
                        victim: Proc | None = None
                        for _tick in range(20 * 600):  # sending again, past `at`, by a leader
                            if (await api.stats()).get("sent", 0) >= at:
                                holder = (await leader_state(db_url))[0]
                                victim = next(
                                    (
                                        p
                                        for p in procs
                                        if p.role == "scheduler"
                                        and p.process is not None
                                        and holder is not None
                                        and f":{p.process.pid}:" in holder
                                    ),
                                    None,
                                )
                                if victim is not None:
                                    break
                            await asyncio.sleep(0.05)
                        if victim is None:
                            raise RuntimeError(f"no scheduler was sending at {at} sends")
                        await asyncio.sleep(rng.uniform(0.0, 0.5))
                        sent_then = (await api.stats()).get("sent", 0)
                        await victim.kill()
                        killed_at = time.monotonic()
                        claimed = await claimed_rows(db_url, run_id)
                        kill = BroadcastKill(victim.name, sent_then, len(claimed))
                        killed.append(kill)
                        watches.append(
                            asyncio.create_task(recovery(db_url, claimed, kill, killed_at))
                        )
                        print(
                            f"SIGKILL {victim.name} after {sent_then:,} sends; "
                            f"{len(claimed)} claimed"
                        )
                        await asyncio.sleep(1.0)  # systemd's RestartSec=1
                        await victim.start()
                    # The restarted process takes back what its predecessor had claimed.
                    for _tick in range(3600):
                        if (await run_state(db_url, run_id))[0] == "done":
                            break
                        await asyncio.sleep(1.0)
                    await asyncio.gather(*watches)
                    seconds = time.monotonic() - started
                    done.set()
                    replies = sum(await asyncio.gather(*chatters))
                for proc in procs:
                    await proc.stop()
                counts = await api.sent_counts(FIRST_SUBSCRIBER, subscribers)
                tracebacks = sum(
                    proc.log.read_text(errors="replace").count("Traceback") for proc in procs
                )
                return BroadcastResult(
                    subscribers=subscribers,
                    rate=rate,
                    seconds=seconds,
                    kills=killed,
                    planned_kills=kills,
                    reached=sum(1 for n in counts if n),
                    duplicates=sum(n - 1 for n in counts if n > 1),
                    doc_bound=concurrency_for(rate) + 2 * flush_size_for(rate),
                    busiest=await api.busiest_second(),
                    busiest_on_wire=None if wire is None else wire.busiest(),
                    refused=(await api.stats()).get("429", 0),
                    replies=replies,
                    tracebacks=tracebacks,
                )
        finally:
            for proc in procs:  # also when the run failed: no process outlives the bench
                await proc.stop()
            await drop_scratch(postgres_url, scratch)


# What the fake counts as sending a message (`FakeBotApi`'s `_MESSAGE_METHODS`).
MESSAGE_PATHS = tuple(
    f"/{method}".encode()
    for method in ("sendMessage", "sendLocation", "sendVenue", "sendPhoto", "sendMediaGroup")
)


@contextlib.asynccontextmanager
async def wire_stamps(base_url: str) -> Any:
    """The message requests to the fake as the kernel stamps them (bench/wire.py), or None
    where this process may not read the loopback interface (not root)."""
    if not WireStamps.available():
        print("not root: the busiest second is counted at the fake's own stamps only")
        yield None
        return
    port = int(base_url.split("//", 1)[1].split("/", 1)[0].rsplit(":", 1)[1])
    with WireStamps(port, MESSAGE_PATHS) as wire:
        yield wire


def after(seconds: float | None) -> str:
    return "never" if seconds is None else f"{seconds:.1f} s"


def broadcast_table(r: BroadcastResult) -> str:
    lines = [
        "| load | faults injected | reached | duplicates (bound) | busiest second on the wire "
        "(limit) | at the fake's stamps | 429s | losses |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |",
        f"| {r.subscribers:,} subscribers at {r.rate:g}/s, {CHATTERS} residents asking /help; "
        f"{r.seconds:.0f} s | {len(r.kills)} × SIGKILL of the sending scheduler "
        f"| {r.reached:,} | {r.duplicates} (≤ {min(r.doc_bound * len(r.kills), r.claimed)}) "
        f"| {'not read' if r.busiest_on_wire is None else r.busiest_on_wire} (≤ {r.rate:g}) "
        f"| {r.busiest} | {r.refused} "
        f"| {r.subscribers - r.reached} |",
        "",
    ]
    for k in r.kills:
        lines.append(
            f"  SIGKILL {k.victim} after {k.at_sent:,} sends; {k.claimed} rows claimed: the "
            f"first sent again {after(k.resumed)} after the kill, the last {after(k.recovered)}"
        )
    lines.append(
        f"  duplicate bound: README's concurrency + 2 × flush size = {r.doc_bound} per crash, "
        f"and no more than the rows claimed at the kills ({r.claimed}); /help answered during "
        f"the run: {r.replies}; tracebacks in the logs: {r.tracebacks}; "
        + ("PASS" if r.ok else "FAIL")
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="10 residents, 40 reports, 1 kill")
    parser.add_argument("--residents", type=int, default=200)
    parser.add_argument("--reports", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=3)
    parser.add_argument("--seed", type=int, default=12)
    parser.add_argument(
        "--store", choices=("sqlite", "postgres", "both"), default="both", help="which runs"
    )
    parser.add_argument(
        "--postgres",
        default=POSTGRES,
        help="a scratch database is created beside the one this names",
    )
    parser.add_argument(
        "--restart-postgres",
        type=int,
        nargs="?",
        const=1,
        default=0,
        help="restart the PostgreSQL server (pg_ctlcluster) this many times under load "
        "(PostgreSQL run only)",
    )
    parser.add_argument(
        "--leader",
        action="store_true",
        help="instead: kill the scheduler leader (PostgreSQL, two schedulers, a schedule due "
        "every minute) --kills times; report takeover times and fires",
    )
    parser.add_argument("--minutes", type=int, default=5, help="with --leader: fires to see")
    parser.add_argument(
        "--broadcast",
        type=int,
        nargs="?",
        const=100_000,
        default=0,
        metavar="N",
        help="instead: one campaign run to N subscribers (default 100,000; 5,000 with --quick) "
        "on PostgreSQL, the sending scheduler killed --kills times (default 2 here)",
    )
    parser.add_argument("--rate", type=float, default=1000.0, help="with --broadcast: messages/s")
    args = parser.parse_args(argv)
    if args.broadcast:
        size = 5_000 if args.quick else args.broadcast
        kills = args.kills if "--kills" in (argv or sys.argv) else 2
        outcome_b = asyncio.run(broadcast(size, kills, args.rate, args.postgres, args.seed))
        print(broadcast_table(outcome_b))
        return 0 if outcome_b.ok else 1
    if args.leader:
        outcome = asyncio.run(
            leader(args.kills if not args.quick else 1, args.minutes, args.postgres, args.seed)
        )
        print(leader_table(outcome))
        return 0 if outcome.ok else 1
    residents, reports, kills = (
        (10, 40, 1) if args.quick else (args.residents, args.reports, args.kills)
    )
    stores = ["sqlite", "postgres"] if args.store == "both" else [args.store]
    results = []
    for store in stores:
        restarts = args.restart_postgres if store == "postgres" else 0
        results.append(
            asyncio.run(
                run(
                    store,
                    residents,
                    reports,
                    kills,
                    restarts,
                    postgres_url=args.postgres,
                    seed=args.seed,
                )
            )
        )
    print(table(results))
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
