"""Settings: the only reader of the environment and `.env`.

Every variable is listed and commented in `.env.example`. A bad value stops the program with one
line naming the variable and what is wrong; secret values are never echoed.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, fields
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

SUPPORTED_LOCALES = ("zh-Hans", "bo", "en")
DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///./jingtu.db"


class ConfigError(Exception):
    """A configuration value is missing or malformed; the message names the variable."""


@dataclass(frozen=True)
class Settings:
    database_url: str = DEFAULT_DATABASE_URL
    telegram_bot_token: str = field(default="", repr=False)
    telegram_base_url: str = "https://api.telegram.org/bot"
    telegram_base_file_url: str = "https://api.telegram.org/file/bot"
    telegram_proxy_url: str = field(default="", repr=False)
    telegram_mode: str = "polling"
    telegram_webhook_secret: str = field(default="", repr=False)
    telegram_webhook_url: str = ""
    web_host: str = "127.0.0.1"
    web_port: int = 8080
    wechat_token: str = field(default="", repr=False)
    wechat_app_id: str = ""
    wechat_app_secret: str = field(default="", repr=False)
    wechat_aes_key: str = field(default="", repr=False)
    wechat_api_base_url: str = "https://api.weixin.qq.com"
    # Choices as msgmenu messages; false (or an account that refuses them) → numbered lists.
    wechat_menu_messages: bool = True
    wechat_templates_file: str = ""  # empty: the shipped messages/wechat/templates.toml
    timezone: str = "Asia/Shanghai"
    default_locale: str = "zh-Hans"
    log_level: str = "INFO"
    # Reporting rules (issue: residents report pollution).
    report_rate_per_hour: int = 5
    duplicate_radius_m: float = 300.0
    duplicate_window_hours: float = 24.0
    # Supervision deadlines.
    ack_hours: float = 24.0
    ack_hours_urgent: float = 2.0
    resolve_days: float = 15.0
    working_days: bool = False
    follow_up_days: float = 3.0
    follow_up_answer_days: float = 7.0
    # level:category:ack_hours:resolve_days;… (see bot.domain.cases.parse_deadline_overrides)
    deadline_overrides: str = ""
    invite_ttl_days: float = 7.0
    sweep_interval_seconds: float = 60.0
    retention_days: float = 30.0
    # The staff desk (dashboard): idle minutes before a session ends; optional map tiles URL.
    desk_session_minutes: float = 480.0
    map_tiles_url: str = ""
    # Outreach.
    broadcast_rate_per_second: float = 30.0
    paid_broadcast: bool = False  # Telegram paid broadcasts: allows up to 1000 messages/s
    quiet_hours: str = "22:00-08:00"
    campaign_misfire_grace_minutes: float = 60.0
    # Media: every photo and voice message of a case, kept by content (bot/storage/media_store.py).
    media_dir: str = "./media"
    media_max_bytes: int = 10 * 1024 * 1024
    # Several processes (issue 12): a name kept across restarts (empty: host:role), and the
    # send budget per bot token shared by every process on PostgreSQL.
    process_name: str = ""
    send_rate_per_second: float = 25.0

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @property
    def is_sqlite(self) -> bool:
        return self.database_url.startswith("sqlite")

    def redacted(self) -> dict[str, object]:
        """The settings with every secret replaced, safe to log."""
        out: dict[str, object] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            out[f.name] = "***" if (f.name in _SECRETS and value) else value
        out["database_url"] = redact_url(self.database_url)
        out["telegram_proxy_url"] = redact_url(self.telegram_proxy_url)
        return out

    @classmethod
    def from_env(
        cls, environ: Mapping[str, str] | None = None, *, env_file: Path | None = Path(".env")
    ) -> Settings:
        env: dict[str, str] = {}
        if env_file is not None and env_file.is_file():
            env.update(read_env_file(env_file))
        env.update(os.environ if environ is None else environ)
        values: dict[str, object] = {}
        for name, (attr, parse) in _VARIABLES.items():
            raw = env.get(name)
            if raw is None or raw.strip() == "":
                continue
            try:
                values[attr] = parse(raw.strip())
            except (ValueError, ZoneInfoNotFoundError) as exc:
                shown = "(hidden)" if attr in _SECRETS else repr(raw.strip())
                raise ConfigError(f"{name}={shown}: {exc}") from None
        settings = cls(**values)  # type: ignore[arg-type]
        settings.check()
        return settings

    def check(self) -> None:
        if self.telegram_mode == "webhook" and not self.telegram_webhook_secret:
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET: required when TELEGRAM_MODE=webhook "
                "(Telegram echoes it in X-Telegram-Bot-Api-Secret-Token)"
            )
        if self.telegram_webhook_secret and not WEBHOOK_SECRET_RE.fullmatch(
            self.telegram_webhook_secret
        ):
            raise ConfigError(
                "TELEGRAM_WEBHOOK_SECRET: must be 16 to 256 characters of A-Z, a-z, 0-9, _ "
                "and - (Telegram's alphabet); make one with "
                "`python -c 'import secrets; print(secrets.token_urlsafe(32))'`"
            )
        limit = PAID_BROADCAST_LIMIT if self.paid_broadcast else FREE_BROADCAST_LIMIT
        if self.broadcast_rate_per_second > limit:
            raise ConfigError(
                f"JINGTU_BROADCAST_RATE={self.broadcast_rate_per_second:g}: above Telegram's "
                f"limit of {limit} messages/s"
                + (
                    ""
                    if self.paid_broadcast
                    else " (set JINGTU_PAID_BROADCAST=true for up to 1000)"
                )
            )
        if self.wechat_aes_key and not _AES_KEY_RE.fullmatch(self.wechat_aes_key):
            raise ConfigError(
                "WECHAT_AES_KEY: must be the 43-character EncodingAESKey from the Official "
                "Account admin (or empty for plaintext mode)"
            )
        if self.wechat_token and self.wechat_app_id and not self.wechat_app_secret:
            raise ConfigError("WECHAT_APP_SECRET: required to reply on WeChat")
        if self.telegram_bot_token and not _TOKEN_RE.fullmatch(self.telegram_bot_token):
            raise ConfigError(
                "TELEGRAM_BOT_TOKEN: does not look like a bot token (expected 123456:ABC…)"
            )


FREE_BROADCAST_LIMIT = 30
PAID_BROADCAST_LIMIT = 1000
_TOKEN_RE = re.compile(r"\d{3,}:[A-Za-z0-9_-]{20,}")
_AES_KEY_RE = re.compile(r"[A-Za-z0-9+/]{43}")
# Telegram allows 1-256 characters of A-Z, a-z, 0-9, _ and - in a webhook's secret_token; fewer
# than 16 could be guessed by trying, so Jingtu asks for at least 16.
WEBHOOK_SECRET_RE = re.compile(r"[A-Za-z0-9_-]{16,256}")
_SECRETS = {
    "telegram_bot_token",
    "telegram_proxy_url",  # may carry a password
    "telegram_webhook_secret",
    "wechat_token",
    "wechat_app_secret",
    "wechat_aes_key",
}


def redact_url(url: str) -> str:
    """Hide the password in a database or proxy URL."""
    return re.sub(r"(//[^:/@]+:)[^@]*@", r"\1***@", url)


def read_env_file(path: Path) -> dict[str, str]:
    out: dict[str, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        out[key.strip()] = value
    return out


def _database_url(raw: str) -> str:
    if raw.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
        return raw
    if raw.startswith(("postgresql://", "postgres://")):
        return "postgresql+asyncpg://" + raw.split("://", 1)[1]
    if raw.startswith("sqlite://"):
        return "sqlite+aiosqlite://" + raw.split("://", 1)[1]
    raise ValueError("must start with sqlite+aiosqlite:// or postgresql+asyncpg://")


def _choice(*allowed: str) -> Callable[[str], str]:
    def parse(raw: str) -> str:
        if raw not in allowed:
            raise ValueError(f"must be one of {', '.join(allowed)}")
        return raw

    return parse


def _url(raw: str) -> str:
    if not raw.startswith(("http://", "https://")):
        raise ValueError("must be an http:// or https:// URL")
    return raw


def _port(raw: str) -> int:
    port = int(raw)
    if not 0 <= port <= 65535:
        raise ValueError("must be a port number 0..65535")
    return port


def _retention_days(raw: str) -> float:
    days = float(raw)
    if not days >= 2:
        # Telegram may deliver an unconfirmed update again for 24 hours: its id must be kept.
        raise ValueError("must be at least 2 (days)")
    return days


def _positive(raw: str) -> float:
    value = float(raw)
    if not value > 0:
        raise ValueError("must be a positive number")
    return value


def _positive_int(raw: str) -> int:
    value = int(raw)
    if value <= 0:
        raise ValueError("must be a positive whole number")
    return value


def _timezone(raw: str) -> str:
    ZoneInfo(raw)
    return raw


def _bool(raw: str) -> bool:
    low = raw.lower()
    if low in {"1", "true", "yes", "on"}:
        return True
    if low in {"0", "false", "no", "off"}:
        return False
    raise ValueError("must be true or false")


def _quiet_hours(raw: str) -> str:
    if raw.lower() in {"off", "none"}:
        return "off"
    if not re.fullmatch(r"([01]\d|2[0-3]):[0-5]\d-([01]\d|2[0-3]):[0-5]\d", raw):
        raise ValueError("must look like 22:00-08:00, or off")
    return raw


def _deadline_overrides(raw: str) -> str:
    from bot.domain.cases import parse_deadline_overrides

    parse_deadline_overrides(raw)  # raises ValueError naming the bad entry
    return raw


# Telegram's Bot API lets a bot download files of at most 20 MB (getFile).
MAX_MEDIA_BYTES = 20 * 1024 * 1024


def _media_max_bytes(raw: str) -> int:
    value = _positive_int(raw)
    if value > MAX_MEDIA_BYTES:
        raise ValueError(
            f"must be at most {MAX_MEDIA_BYTES} (20 MB, what Telegram lets bots download)"
        )
    return value


def _existing_file(raw: str) -> str:
    if not Path(raw).is_file():
        raise ValueError("no such file")
    return raw


def _plain(raw: str) -> str:
    return raw


_VARIABLES = {
    "DATABASE_URL": ("database_url", _database_url),
    "TELEGRAM_BOT_TOKEN": ("telegram_bot_token", _plain),
    "TELEGRAM_BASE_URL": ("telegram_base_url", _url),
    "TELEGRAM_BASE_FILE_URL": ("telegram_base_file_url", _url),
    "TELEGRAM_PROXY_URL": ("telegram_proxy_url", _url),
    "TELEGRAM_MODE": ("telegram_mode", _choice("polling", "webhook")),
    "TELEGRAM_WEBHOOK_SECRET": ("telegram_webhook_secret", _plain),
    "TELEGRAM_WEBHOOK_URL": ("telegram_webhook_url", _url),
    "WEB_HOST": ("web_host", _plain),
    "WEB_PORT": ("web_port", _port),
    "WECHAT_TOKEN": ("wechat_token", _plain),
    "WECHAT_APP_ID": ("wechat_app_id", _plain),
    "WECHAT_APP_SECRET": ("wechat_app_secret", _plain),
    "WECHAT_AES_KEY": ("wechat_aes_key", _plain),
    "WECHAT_API_BASE_URL": ("wechat_api_base_url", _url),
    "WECHAT_MENU_MESSAGES": ("wechat_menu_messages", _bool),
    "WECHAT_TEMPLATES_FILE": ("wechat_templates_file", _existing_file),
    "JINGTU_TIMEZONE": ("timezone", _timezone),
    "JINGTU_DEFAULT_LOCALE": ("default_locale", _choice(*SUPPORTED_LOCALES)),
    "JINGTU_LOG_LEVEL": ("log_level", _choice("DEBUG", "INFO", "WARNING", "ERROR")),
    "JINGTU_REPORT_RATE_PER_HOUR": ("report_rate_per_hour", _positive_int),
    "JINGTU_DUPLICATE_RADIUS_M": ("duplicate_radius_m", _positive),
    "JINGTU_DUPLICATE_WINDOW_HOURS": ("duplicate_window_hours", _positive),
    "JINGTU_ACK_HOURS": ("ack_hours", _positive),
    "JINGTU_ACK_HOURS_URGENT": ("ack_hours_urgent", _positive),
    "JINGTU_RESOLVE_DAYS": ("resolve_days", _positive),
    "JINGTU_WORKING_DAYS": ("working_days", _bool),
    "JINGTU_FOLLOW_UP_DAYS": ("follow_up_days", _positive),
    "JINGTU_FOLLOW_UP_ANSWER_DAYS": ("follow_up_answer_days", _positive),
    "JINGTU_DEADLINE_OVERRIDES": ("deadline_overrides", _deadline_overrides),
    "JINGTU_INVITE_TTL_DAYS": ("invite_ttl_days", _positive),
    "JINGTU_SWEEP_INTERVAL_SECONDS": ("sweep_interval_seconds", _positive),
    "JINGTU_RETENTION_DAYS": ("retention_days", _retention_days),
    "JINGTU_BROADCAST_RATE": ("broadcast_rate_per_second", _positive),
    "JINGTU_PAID_BROADCAST": ("paid_broadcast", _bool),
    "JINGTU_QUIET_HOURS": ("quiet_hours", _quiet_hours),
    "JINGTU_CAMPAIGN_MISFIRE_GRACE_MINUTES": ("campaign_misfire_grace_minutes", _positive),
    "JINGTU_MEDIA_DIR": ("media_dir", _plain),
    "JINGTU_MEDIA_MAX_BYTES": ("media_max_bytes", _media_max_bytes),
    "JINGTU_DESK_SESSION_MINUTES": ("desk_session_minutes", _positive),
    "JINGTU_MAP_TILES_URL": ("map_tiles_url", _plain),
    "JINGTU_PROCESS_NAME": ("process_name", _plain),
    "JINGTU_SEND_RATE": ("send_rate_per_second", _positive),
}
