"""A webhook receiver on loopback: what Apprise's json:// targets post to in the tests.

Every POST is recorded with its path, JSON body and arrival time. A path can
be told to answer 500 a number of times first (`fail_first`), always
(`always_fail`), or to hold its answer for some seconds (`delay`).
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One POST as the receiver saw it."""

    path: str
    body: dict[str, Any]
    at: float  # time.time() on arrival
    status: int  # what the receiver answered


class _Handler(BaseHTTPRequestHandler):
    server: WebhookReceiver
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {"raw": raw.decode("utf-8", "replace")}
        status = self.server.answer(self.path)
        time.sleep(self.server.delay.get(self.path, 0))
        with self.server.lock:
            self.server.received.append(Received(self.path, body, time.time(), status))
        payload = b"{}" if status == 200 else b'{"error": "down"}'
        try:
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):  # the sender gave up waiting
            self.close_connection = True


class WebhookReceiver(ThreadingHTTPServer):
    """Serve on 127.0.0.1 in a thread; `url(path)` is a json:// target for Apprise."""

    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.lock = threading.Lock()
        self.received: list[Received] = []
        self.fail_first: dict[str, int] = {}
        self.always_fail: set[str] = set()
        self.delay: dict[str, float] = {}
        threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def url(self, path: str, scheme: str = "json") -> str:
        """Return the Apprise URL of a path of this receiver."""
        return f"{scheme}://127.0.0.1:{self.server_address[1]}{path}"

    def answer(self, path: str) -> int:
        """Return the status the next POST to `path` gets."""
        with self.lock:
            if path in self.always_fail:
                return 500
            left = self.fail_first.get(path, 0)
            if left:
                self.fail_first[path] = left - 1
                return 500
        return 200

    def at(self, path: str, status: int | None = 200) -> list[Received]:
        """Return the POSTs to `path` (only those answered `status`; None: all)."""
        with self.lock:
            return [r for r in self.received if r.path == path and status in (None, r.status)]

    def stop(self) -> None:
        self.shutdown()
        self.server_close()
