"""aiohttp: webhook mount points and health."""
