"""The webhook door's own rules: the refusal throttle and the webhook secret's shape."""

from __future__ import annotations

import pytest

from bot.channels.door import RefusalThrottle
from bot.config import ConfigError, Settings


def test_the_throttle_forgets_a_source_when_its_window_has_passed():
    now = [0.0]
    throttle = RefusalThrottle(limit=2, window=60, max_sources=3, monotonic=lambda: now[0])
    for _ in range(2):
        assert throttle.retry_after("a") is None
        throttle.refused("a")
    assert throttle.retry_after("a") == 60
    now[0] = 59.5
    assert throttle.retry_after("a") == pytest.approx(0.5)
    now[0] = 60.0
    assert throttle.retry_after("a") is None
    for source in ("b", "c", "d", "e"):  # memory stays bounded: the oldest source goes
        throttle.refused(source)
    assert throttle.retry_after("a") is None and throttle.tracked == 3


@pytest.mark.parametrize("secret", ["abc", "x" * 15, "spaces are not allowed ok", "秘密" * 10])
def test_a_webhook_secret_telegram_would_refuse_or_a_short_one_is_a_config_error(secret):
    env = {"TELEGRAM_MODE": "webhook", "TELEGRAM_WEBHOOK_SECRET": secret}
    with pytest.raises(ConfigError) as refused:
        Settings.from_env(env)
    assert "16 to 256" in str(refused.value) and secret not in str(refused.value)
