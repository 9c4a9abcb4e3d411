"""The layering ARCHITECTURE.md promises, checked on the source rather than trusted."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def imports_of(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def modules(*folders: str) -> list[Path]:
    return sorted(p for folder in folders for p in (ROOT / folder).rglob("*.py"))


def test_the_domain_imports_only_the_standard_library_and_shapely():
    allowed_third_party = {"shapely", "numpy"}  # numpy: shapely 2's array type
    for path in modules("bot/domain"):
        for name in imports_of(path):
            top = name.split(".")[0]
            assert (
                top in sys.stdlib_module_names
                or top in allowed_third_party
                or name.startswith("bot.domain")
            ), f"{path.relative_to(ROOT)} imports {name}"


TELEGRAM_CHANNEL = {"bot/channels/telegram.py", "bot/channels/telegram_http.py"}


def test_only_the_telegram_channel_imports_python_telegram_bot():
    for path in modules("bot", "handlers", "messages"):
        if path.relative_to(ROOT).as_posix() in TELEGRAM_CHANNEL:
            continue
        assert not {n for n in imports_of(path) if n.split(".")[0] == "telegram"}, path


def test_conversations_know_no_platform_and_no_sql():
    for path in modules("handlers"):
        for name in imports_of(path):
            assert not name.startswith(("bot.channels", "sqlalchemy", "telegram", "aiohttp")), (
                f"{path.relative_to(ROOT)} imports {name}"
            )


def test_nothing_below_the_composition_root_imports_it():
    for path in modules("bot", "handlers", "messages"):
        rel = path.relative_to(ROOT).as_posix()
        if rel in {"bot/app.py", "bot/cli.py"} or rel.startswith("bot/commands/"):
            continue
        assert "bot.app" not in imports_of(path), rel


def _importers(folder: str, forbidden: tuple[str, ...], allowed: tuple[str, ...] = ()) -> list[str]:
    found = []
    for path in modules(folder):
        for name in imports_of(path):
            if name.startswith(forbidden) and not name.startswith(allowed):
                found.append(f"{path.relative_to(ROOT)} imports {name}")
    return found


def test_services_import_no_handlers_no_channels_and_no_delivery_engine():
    # Services write the outbox (its rows and the message they carry), read what it gave up
    # on (the undelivered notices staff must hear of), and give back the rows a dead process
    # had claimed, outbox rows and broadcast deliveries alike (`processes`); nothing more of
    # delivery: the broadcast engine is handed to the outreach service by the composition root.
    found = _importers(
        "bot/services",
        ("handlers", "bot.channels", "bot.delivery", "bot.web", "bot.app"),
        allowed=(
            "bot.delivery.outbox",
            "bot.delivery.message",
            "bot.delivery.undelivered",
            "bot.delivery.broadcast_store",
        ),
    )
    assert found == []


def test_delivery_imports_no_services_and_no_conversations():
    assert _importers("bot/delivery", ("bot.services", "handlers", "bot.channels")) == []


def test_conversations_do_not_touch_the_storage_models():
    assert _importers("handlers", ("bot.storage",)) == []


def test_the_domain_imports_nothing_of_jingtu_outside_the_domain():
    assert _importers("bot/domain", ("bot.", "handlers", "messages"), allowed=("bot.domain",)) == []
