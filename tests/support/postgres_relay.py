"""PostgreSQL that goes away and comes back, for tests of what Jingtu does meanwhile."""

from __future__ import annotations

import asyncio
import contextlib


class CuttablePostgres:
    """A TCP relay to PostgreSQL that can be cut (every connection closed, new ones refused)
    and mended: the database going away and coming back, as in a restart."""

    def __init__(self, host: str, port: int) -> None:
        self.target = (host, port)
        self.cut = False
        self.refused = asyncio.Event()  # a connection was refused while cut
        self.writers: set[asyncio.StreamWriter] = set()
        self.server: asyncio.Server | None = None

    async def start(self) -> int:
        self.server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        return int(self.server.sockets[0].getsockname()[1])

    def sever(self) -> None:
        self.cut = True
        for writer in self.writers:
            writer.close()

    async def _relay(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self.cut:
            self.refused.set()
            writer.close()
            return
        up_reader, up_writer = await asyncio.open_connection(*self.target)
        self.writers |= {writer, up_writer}

        async def pipe(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(ConnectionError, OSError):
                while data := await src.read(65536):
                    dst.write(data)
                    await dst.drain()
            dst.close()

        await asyncio.gather(pipe(reader, up_writer), pipe(up_reader, writer))
        self.writers -= {writer, up_writer}

    async def stop(self) -> None:
        self.sever()
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()
