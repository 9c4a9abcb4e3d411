"""Logging setup that keeps secrets out of every log line.

httpx, which python-telegram-bot uses, logs each request URL — and a Bot API URL contains the bot
token. The filter below rewrites any configured secret in any record before it is written.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from bot.config import Settings

_TOKEN_LIKE = re.compile(r"(?<![0-9])\d{3,}:[A-Za-z0-9_-]{30,}")


class RedactSecrets(logging.Filter):
    def __init__(self, secrets: Iterable[str]) -> None:
        super().__init__()
        self.secrets = sorted({s for s in secrets if s and len(s) >= 4}, key=len, reverse=True)

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, "***")
        return _TOKEN_LIKE.sub("***", text)

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        cleaned = self.redact(message)
        if cleaned != message:
            record.msg, record.args = cleaned, None
        if record.exc_info and record.exc_info[1] is not None:
            # Render the traceback now, redacted, so the handler does not render the raw one.
            formatter = logging.Formatter()
            record.exc_text = self.redact(formatter.formatException(record.exc_info))
            record.exc_info = None
        return True


def configure_logging(settings: Settings) -> RedactSecrets:
    secrets = [
        settings.telegram_bot_token,
        settings.telegram_webhook_secret,
        settings.wechat_token,
        settings.wechat_app_secret,
        settings.wechat_aes_key,
    ]
    redactor = RedactSecrets(secrets)
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(redactor)
    root = logging.getLogger()
    for existing in list(root.handlers):
        root.removeHandler(existing)
    root.addHandler(handler)
    root.setLevel(settings.log_level)
    # httpx logs every request at INFO; keep it at WARNING so polling does not flood the log.
    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("alembic").setLevel(logging.WARNING)
    logging.getLogger("apscheduler").setLevel(logging.WARNING)
    return redactor
