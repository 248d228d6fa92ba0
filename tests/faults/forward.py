"""A TCP forwarder in the root namespace: the only way the fleet's hosts reach the services.

RabbitMQ, PostgreSQL and the feed server listen on 127.0.0.1 only, which a
network namespace cannot reach. The forwarder listens on a host's root-side
veth address and relays each connection to the service on loopback, so a
host's traffic crosses its veth, where the test can cut it.
"""

from __future__ import annotations

import asyncio
import contextlib
import threading


class Forwarder:
    """Relay TCP connections from listening addresses to loopback services, in a thread."""

    def __init__(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._servers: list[asyncio.Server] = []
        self._writers: set[asyncio.StreamWriter] = set()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()

    def listen(self, host: str, target: tuple[str, int]) -> int:
        """Listen on `host` (a free port) and relay to `target`; return the port."""

        async def start() -> asyncio.Server:
            return await asyncio.start_server(
                lambda r, w: self._relay(r, w, target), host, 0, reuse_address=True
            )

        server = asyncio.run_coroutine_threadsafe(start(), self._loop).result(10)
        self._servers.append(server)
        return server.sockets[0].getsockname()[1]

    async def _relay(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter, target: tuple[str, int]
    ) -> None:
        try:
            up_reader, up_writer = await asyncio.open_connection(*target)
        except OSError:
            writer.close()
            return
        self._writers.update((writer, up_writer))
        try:
            await asyncio.gather(self._pipe(reader, up_writer), self._pipe(up_reader, writer))
        finally:
            for w in (writer, up_writer):
                self._writers.discard(w)
                w.close()

    @staticmethod
    async def _pipe(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        """Copy one direction until it ends; then end the other side's writes too."""
        try:
            while data := await reader.read(65536):
                writer.write(data)
                await writer.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            # One side gone: close both, as a crashed middlebox would not, but
            # a half-open relay would only hide the peer's death longer.
            writer.close()

    def close(self) -> None:
        """Stop listening, drop every relayed connection, end the thread."""

        async def stop() -> None:
            for server in self._servers:
                server.close()
            for writer in list(self._writers):
                writer.close()
            for server in self._servers:
                with contextlib.suppress(Exception):
                    await asyncio.wait_for(server.wait_closed(), 2)

        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(stop(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
