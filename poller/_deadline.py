"""An httpcore network backend with a total deadline and an address guard.

httpcore's timeouts apply to each socket operation, so a server that sends one
byte per second never trips a 15 s read timeout. Here every read, write,
connect and TLS handshake gets at most the time left until a per-thread
deadline, set by :func:`deadline` around one fetch.
"""

from __future__ import annotations

import ssl
import threading
import time
import typing
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from contextlib import contextmanager

import httpcore

from . import netguard

_local = threading.local()
# getaddrinfo() has no timeout and can block for the resolver's 5 s × attempts;
# run it on a small pool so the caller can stop waiting at the deadline.
_resolver = ThreadPoolExecutor(max_workers=8, thread_name_prefix="tubepoller-dns")


@contextmanager
def deadline(at: float) -> Iterator[None]:
    """Bound all network calls of this thread to end by ``at`` (monotonic)."""
    previous = getattr(_local, "at", None)
    _local.at = at
    try:
        yield
    finally:
        _local.at = previous


def _clamp(timeout: float | None, expired: type[Exception]) -> float | None:
    """Return ``timeout`` cut to the time left, or raise ``expired`` if none is."""
    at = getattr(_local, "at", None)
    if at is None:
        return timeout
    left = at - time.monotonic()
    if left <= 0:
        raise expired("deadline passed")
    return left if timeout is None else min(timeout, left)


class DeadlineStream(httpcore.NetworkStream):
    """A stream whose every operation ends by the thread's deadline."""

    def __init__(self, inner: httpcore.NetworkStream) -> None:
        self._inner = inner

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._inner.read(max_bytes, _clamp(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        # One send per call: the inner write would reuse the timeout per chunk.
        while buffer:
            self._inner.write(buffer[:65536], _clamp(timeout, httpcore.WriteTimeout))
            buffer = buffer[65536:]

    def close(self) -> None:
        self._inner.close()

    def start_tls(
        self,
        ssl_context: ssl.SSLContext,
        server_hostname: str | None = None,
        timeout: float | None = None,
    ) -> httpcore.NetworkStream:
        # httpcore calls start_tls on the stream connect_tcp returned and then
        # uses the result: wrap it again, or TLS reads escape the deadline.
        # server_hostname is the URL's host (not the IP we connected to), so
        # SNI and certificate checks use the name.
        timeout = _clamp(timeout, httpcore.ConnectTimeout)
        return DeadlineStream(self._inner.start_tls(ssl_context, server_hostname, timeout))

    def get_extra_info(self, info: str) -> typing.Any:
        return self._inner.get_extra_info(info)


class GuardedBackend(httpcore.NetworkBackend):
    """Connect only to addresses netguard accepts, within the deadline.

    Args:
        allow_private: passed to :func:`netguard.check_host`.
    """

    def __init__(self, allow_private: bool) -> None:
        self._allow_private = allow_private
        self._inner = httpcore.SyncBackend()

    def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        # Resolve once, check, and connect to the checked IP: resolving again
        # in the connect call would let a DNS answer change in between.
        wait = _clamp(timeout, httpcore.ConnectTimeout)
        lookup = _resolver.submit(netguard.check_host, host, port, self._allow_private)
        try:
            addresses = lookup.result(wait)
        except FutureTimeout:
            raise httpcore.ConnectTimeout(f"resolving {host} took too long") from None
        error: Exception = httpcore.ConnectError(f"{host} has no address")
        for address in addresses:
            try:
                stream = self._inner.connect_tcp(
                    address,
                    port,
                    _clamp(timeout, httpcore.ConnectTimeout),
                    local_address,
                    list(socket_options or ()),
                )
            except httpcore.ConnectError as exc:
                error = exc  # try the next address, like socket.create_connection
                continue
            return DeadlineStream(stream)
        raise error

    def connect_unix_socket(
        self,
        path: str,
        timeout: float | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.NetworkStream:
        raise httpcore.ConnectError("feeds are not fetched over unix sockets")

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
