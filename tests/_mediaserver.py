"""A small loopback HTTP server that plays YouTube, a podcast host and a CDN for yt-dlp tests.

Routes are set per test: a path (without query) maps to a `Route` — a status, a content type and
a body — or to `HANG`, which reads the request and then answers nothing until the server stops
(what a stuck extractor looks like from yt-dlp's side). A route with `stall_after` sends its
headers and that many bytes of body, then stalls the same way (a CDN that stops mid-file).
"""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit


@dataclass(frozen=True)
class Route:
    """One canned answer."""

    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    stall_after: int | None = None


HANG = Route(b"", status=0)


class _Handler(BaseHTTPRequestHandler):
    server: MediaServer
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 - stdlib signature
        pass  # keep pytest output quiet; the server records requests itself

    def do_HEAD(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(head=True)

    def do_GET(self) -> None:  # noqa: N802 - stdlib naming
        self._answer(head=False)

    def _answer(self, head: bool) -> None:
        path = urlsplit(self.path).path
        self.server.requests.append((self.command, self.path, self.headers.get("Range")))
        route = self.server.routes.get(path)
        if route is HANG:
            # Block this handler thread until the test tears the server down.
            self.server.stopping.wait()
            return
        if route is None:
            route = Route(b"not found", "text/plain", 404)
        body, status = route.body, route.status
        # yt-dlp's HTTP downloader may ask for a byte range (resume, chunking): honour the simple
        # "bytes=N-" and "bytes=N-M" forms so the test exercises the real code path.
        rng = self.headers.get("Range")
        if status == 200 and rng and rng.startswith("bytes="):
            first, _, last = rng[6:].partition("-")
            start = int(first or 0)
            end = int(last) if last else len(body) - 1
            if start >= len(body):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(body)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
            body = body[start : end + 1]
        else:
            self.send_response(status)
        self.send_header("Content-Type", route.content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Accept-Ranges", "bytes")
        self.end_headers()
        if head:
            return
        if route.stall_after is None:
            self.wfile.write(body)
            return
        self.wfile.write(body[: route.stall_after])
        self.wfile.flush()
        self.server.stopping.wait()


class MediaServer(ThreadingHTTPServer):
    """A ThreadingHTTPServer on 127.0.0.1 with per-test routes and a request log."""

    daemon_threads = True  # hung handlers must not keep the test process alive

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.routes: dict[str, Route] = {}
        self.requests: list[tuple[str, str, str | None]] = []
        self.stopping = threading.Event()

    @property
    def base(self) -> str:
        """Return the server's root URL, like ``http://127.0.0.1:PORT``."""
        return f"http://127.0.0.1:{self.server_address[1]}"

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        # A client killed mid-answer is what the timeout tests do on purpose; report the rest.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def url(self, path: str) -> str:
        """Return the absolute URL of ``path`` on this server."""
        return self.base + path


@contextmanager
def serve() -> Iterator[MediaServer]:
    """Run a MediaServer in a thread for the duration of a ``with`` block."""
    server = MediaServer()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
