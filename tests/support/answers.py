"""How the feed server answers: complete replies, canned routes, byte ranges, stalls.

A route a test sets is either a `Route` (a status, a content type and a body;
`HANG` answers nothing) or a plain function given the request handler, which
writes whatever bytes it likes — how the tests play a server that drips, lies
or loops.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler

Answer = Callable[[BaseHTTPRequestHandler], None]


@dataclass(frozen=True)
class Route:
    """One canned answer; with `stall_after`, stop after that many bytes of body."""

    body: bytes
    content_type: str = "application/octet-stream"
    status: int = 200
    stall_after: int | None = None


# Reads the request, then answers nothing until the server stops (a stuck extractor).
HANG = Route(b"", status=0)
NOT_FOUND = Route(b"not found", "text/plain", 404)


def reply(
    handler: BaseHTTPRequestHandler,
    status: int,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> None:
    """Send a complete response with a Content-Length (no body to a HEAD)."""
    handler.send_response(status)
    for name, value in (headers or {}).items():
        handler.send_header(name, value)
    handler.send_header("Content-Length", str(len(body)))
    # Headers and body in one write: one segment per answer on loopback.
    handler._headers_buffer.append(b"\r\n")  # type: ignore[attr-defined]
    if handler.command == "HEAD":
        body = b""
    handler.wfile.write(b"".join(handler._headers_buffer) + body)  # type: ignore[attr-defined]
    handler._headers_buffer = []  # type: ignore[attr-defined]


def drip(byte: bytes, *, count: int, every: float, length: int) -> Answer:
    """Return an answer that promises `length` bytes, then sends `count` bytes one by one.

    A byte every `every` seconds: a server that keeps a connection busy
    without ever finishing, which a deadline must cut.
    """

    def answer(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", str(length))
        handler.end_headers()
        for _ in range(count):
            handler.wfile.write(byte)
            handler.wfile.flush()
            time.sleep(every)

    return answer


def send_route(handler: BaseHTTPRequestHandler, route: Route, stopping: threading.Event) -> None:
    """Answer with a canned route, honouring "bytes=N-" and "bytes=N-M" ranges.

    yt-dlp's HTTP downloader may ask for a byte range (resume, chunking), so
    the tests exercise its real code path.
    """
    if route is HANG:
        stopping.wait()  # block this handler thread until the test stops the server
        return
    body, status = route.body, route.status
    rng = handler.headers.get("Range")
    if status == 200 and rng and rng.startswith("bytes="):
        first, _, last = rng[6:].partition("-")
        start = int(first or 0)
        end = int(last) if last else len(body) - 1
        if start >= len(body):
            handler.send_response(416)
            handler.send_header("Content-Range", f"bytes */{len(body)}")
            handler.send_header("Content-Length", "0")
            handler.end_headers()
            return
        handler.send_response(206)
        handler.send_header("Content-Range", f"bytes {start}-{end}/{len(body)}")
        body = body[start : end + 1]
    else:
        handler.send_response(status)
    handler.send_header("Content-Type", route.content_type)
    handler.send_header("Content-Length", str(len(body)))
    handler.send_header("Accept-Ranges", "bytes")
    handler.end_headers()
    if handler.command == "HEAD":
        return
    if route.stall_after is None:
        handler.wfile.write(body)
        return
    handler.wfile.write(body[: route.stall_after])
    handler.wfile.flush()
    stopping.wait()
