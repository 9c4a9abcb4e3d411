"""Getting messages out: the outbox, senders per channel, retries and rate limits."""
