import io
import logging
import subprocess
import sys
from pathlib import Path

import pytest

from bot.config import ConfigError, Settings
from bot.logs import RedactSecrets, configure_logging

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw_x"


def test_defaults_need_no_environment_at_all():
    settings = Settings.from_env({}, env_file=None)
    assert settings.database_url == "sqlite+aiosqlite:///./jingtu.db"
    assert (settings.web_host, settings.web_port) == ("127.0.0.1", 8080)
    assert settings.telegram_base_url == "https://api.telegram.org/bot"
    assert (settings.timezone, settings.default_locale) == ("Asia/Shanghai", "zh-Hans")


def test_a_plain_postgres_url_is_given_the_async_driver():
    settings = Settings.from_env({"DATABASE_URL": "postgresql://u:p@db/jingtu"}, env_file=None)
    assert settings.database_url == "postgresql+asyncpg://u:p@db/jingtu"


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"WEB_PORT": "eighty"}, "WEB_PORT"),
        ({"WEB_PORT": "70000"}, "WEB_PORT"),
        ({"TELEGRAM_MODE": "carrier-pigeon"}, "TELEGRAM_MODE"),
        ({"JINGTU_TIMEZONE": "Mars/Olympus"}, "JINGTU_TIMEZONE"),
        ({"JINGTU_DEFAULT_LOCALE": "fr"}, "JINGTU_DEFAULT_LOCALE"),
        ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
        ({"TELEGRAM_BASE_URL": "ftp://x"}, "TELEGRAM_BASE_URL"),
        ({"TELEGRAM_PROXY_URL": "socks5://proxy:1080"}, "TELEGRAM_PROXY_URL"),
        ({"TELEGRAM_MODE": "webhook"}, "TELEGRAM_WEBHOOK_SECRET"),
        ({"TELEGRAM_BOT_TOKEN": "not-a-token"}, "TELEGRAM_BOT_TOKEN"),
        ({"JINGTU_QUIET_HOURS": "late"}, "JINGTU_QUIET_HOURS"),
        ({"JINGTU_REPORT_RATE_PER_HOUR": "-1"}, "JINGTU_REPORT_RATE_PER_HOUR"),
        ({"WECHAT_AES_KEY": "too-short"}, "WECHAT_AES_KEY"),
        ({"WECHAT_TOKEN": "t", "WECHAT_APP_ID": "wx1"}, "WECHAT_APP_SECRET"),
    ],
)
def test_a_bad_value_is_refused_naming_the_variable(env, message):
    with pytest.raises(ConfigError, match=message):
        Settings.from_env(env, env_file=None)


def test_a_malformed_secret_is_not_echoed_in_the_error():
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"TELEGRAM_BOT_TOKEN": "hunter2-secret"}, env_file=None)
    assert "hunter2" not in str(info.value)


def test_the_env_file_is_read_and_the_environment_wins(tmp_path: Path):
    env_file = tmp_path / ".env"
    env_file.write_text("# comment\nWEB_PORT=9000\nJINGTU_TIMEZONE='Asia/Urumqi'\n")
    settings = Settings.from_env({"WEB_PORT": "9100"}, env_file=env_file)
    assert (settings.web_port, settings.timezone) == (9100, "Asia/Urumqi")


def test_every_variable_is_documented_in_env_example():
    from bot.config import _VARIABLES

    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {
        line.split("=", 1)[0]
        for line in example.splitlines()
        if "=" in line and not line.startswith("#")
    }
    assert set(_VARIABLES) <= documented, set(_VARIABLES) - documented


def test_misconfiguration_exits_with_one_line_and_no_traceback(tmp_path: Path):
    result = subprocess.run(
        [sys.executable, "-m", "bot", "grid", "stats"],
        env={"WEB_PORT": "eighty", "PATH": "/usr/bin:/bin"},
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "configuration error: WEB_PORT='eighty': invalid literal for int() with base 10: 'eighty'"
    ]


def test_secrets_never_reach_the_log(monkeypatch):
    settings = Settings.from_env(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "WECHAT_APP_SECRET": "wechat-app-secret-value"}, env_file=None
    )
    redactor = configure_logging(settings)
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(redactor)
    log = logging.getLogger("test.secrets")
    log.addHandler(handler)
    try:
        log.warning("POST https://api.telegram.org/bot%s/getUpdates", TOKEN)
        log.warning("app secret is %s", "wechat-app-secret-value")
        try:
            raise RuntimeError(f"failed calling bot{TOKEN}/sendMessage")
        except RuntimeError:
            log.exception("boom")
    finally:
        log.removeHandler(handler)
    output = stream.getvalue()
    assert TOKEN not in output and "wechat-app-secret-value" not in output
    assert output.count("***") >= 3


def test_an_unknown_token_shaped_string_is_redacted_too():
    assert RedactSecrets([]).redact(f"url /bot{TOKEN}/x") == "url /bot***/x"


def test_settings_repr_and_redacted_form_hide_secrets():
    settings = Settings.from_env(
        {"TELEGRAM_BOT_TOKEN": TOKEN, "DATABASE_URL": "postgresql://u:pw@h/db"}, env_file=None
    )
    assert TOKEN not in repr(settings)
    redacted = settings.redacted()
    assert redacted["telegram_bot_token"] == "***"
    assert "pw" not in str(redacted["database_url"])


def test_a_proxy_password_is_never_shown():
    proxy = "http://jingtu:hunter2@proxy.example:3128"
    settings = Settings.from_env({"TELEGRAM_PROXY_URL": proxy}, env_file=None)
    assert settings.telegram_proxy_url == proxy
    assert "hunter2" not in repr(settings)
    assert "hunter2" not in str(settings.redacted())
    assert "proxy.example" in str(settings.redacted()["telegram_proxy_url"])
    with pytest.raises(ConfigError) as info:
        Settings.from_env({"TELEGRAM_PROXY_URL": "socks5://u:hunter2@p:1"}, env_file=None)
    assert "hunter2" not in str(info.value)
