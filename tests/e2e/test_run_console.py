"""The README's main command, as a newcomer runs it: no token, so the console channel."""

from __future__ import annotations

import gc
import subprocess
import sys
from pathlib import Path

from bot.app import freeze_startup_heap


def run_bot(args: list[str], cwd: Path, stdin: str = "") -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        input=stdin,
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{cwd}/jingtu.db",
            "PATH": "/usr/bin:/bin",
            "WEB_PORT": "0",  # the web server (the desk) on any free port
        },
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_run_without_a_token_serves_the_console_on_the_sample_grid(tmp_path: Path):
    assert run_bot(["db", "upgrade"], tmp_path).returncode == 0
    assert run_bot(["grid", "load-sample", "--if-empty"], tmp_path).returncode == 0
    result = run_bot(["run"], tmp_path, stdin="/start\n/help\n/quit\n")
    assert result.returncode == 0, result.stderr
    assert "running the console channel on the sample grid (1910 cells" in result.stdout
    assert "日喀则市生态环境局" in result.stdout  # the welcome, in the default language
    assert "/report — 举报污染" in result.stdout  # and the command list
    assert "The staff desk: http://127.0.0.1:" in result.stdout  # the web app serves here too


def test_the_serving_process_freezes_what_startup_built():
    try:
        freeze_startup_heap()
        assert gc.get_freeze_count() > 0
    finally:
        gc.unfreeze()  # this test process is not a serving one
