"""What every channel speaks: an Inbound event in, Replies out. Channel-neutral by design.

The types are defined where the core needs them (`bot.services.inbound`, `bot.delivery.message`)
and gathered here for the conversations and the channels.
"""

from __future__ import annotations

from bot.delivery.message import Button, Location, Reply
from bot.services.inbound import Inbound, Outcome

__all__ = ["Button", "Inbound", "Location", "Outcome", "Reply"]
