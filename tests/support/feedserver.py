"""The local HTTP server of the tests and the benchmark: YouTube, feed hosts and a CDN.

Serves on loopback, so nothing leaves the machine (point TUBEPOLLER_YOUTUBE_URL
at it):

- ``/feeds/videos.xml?channel_id=UC…``: the Atom feed of a synthetic channel's
  latest 15 uploads (`synthetic.Channel`), with ETag/Last-Modified and 304s
  when validators are on;
- ``/channel/UC…/videos``: the whole catalog as an RSS 2.0 document, which
  yt-dlp's generic extractor lists as a playlist of ``/watch?v=ID`` links;
- ``/watch?v=ID``: a few KB of "video/mp4" that yt-dlp downloads (``set?media=BYTES``
  makes it larger);
- any path a test sets in `routes` (a canned `answers.Route`, `HANG`, or a
  function that writes its own answer), which wins over the paths above;
  ``set_raw`` serves a body at ``/raw/NAME``.

Every request is recorded (`requests`) and counted by its whole target
(`hits`). Run it in-process (`FeedServer`) or as its own process, steered
over HTTP (``python -m tests.support.feedserver``, the benchmark's way).
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import ssl
import sys
import threading
import time
from email.utils import formatdate
from http.client import HTTPMessage
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import NamedTuple
from urllib.parse import parse_qs, urlsplit

from .answers import NOT_FOUND, Answer, Route, reply, send_route
from .synthetic import MEDIA, Channel, channel_id


class Request(NamedTuple):
    """One request as the server saw it."""

    method: str
    path: str  # the whole target: path and query
    headers: HTTPMessage  # looked up without regard to case


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer

    def setup(self) -> None:
        # HTTP/1.1 keeps connections alive, as a real server does; HTTP/1.0
        # closes each one, which hand-written answers without a length need.
        self.protocol_version = "HTTP/1.1" if self.server.keep_alive else "HTTP/1.0"
        super().setup()

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        reply(self, status, body, headers)

    def do_POST(self) -> None:  # noqa: N802 (stdlib name)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        if not parts.path.startswith("/_bench/"):
            self._send(404, b"not found")
            return
        query = {k: v[0] for k, v in parse_qs(parts.query).items()}
        try:
            answer = self.server.control(parts.path[len("/_bench/") :], query, body)
        except (KeyError, ValueError) as exc:
            self._send(400, f"bad control request: {exc}".encode())
            return
        self._send(200, json.dumps(answer).encode(), {"Content-Type": "application/json"})

    def do_HEAD(self) -> None:  # noqa: N802 (stdlib name)
        self.do_GET()

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self.server.record(self)
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        route = self.server.routes.get(parts.path)
        try:
            if isinstance(route, Route):
                send_route(self, route, self.server.stopping)
            elif route is not None:
                route(self)
            elif parts.path == "/feeds/videos.xml":
                ids = parse_qs(parts.query).get("channel_id", [""])
                self._feed(self.server.by_id.get(ids[0]), catalog=False)
            elif len(segments) == 3 and segments[0] == "channel" and segments[2] == "videos":
                self._feed(self.server.by_id.get(segments[1]), catalog=True)
            elif parts.path == "/watch":
                self._send(200, self.server.media, {"Content-Type": "video/mp4"})
            elif parts.path == "/_bench/stats":
                stats = json.dumps(self.server.stats()).encode()
                self._send(200, stats, {"Content-Type": "application/json"})
            else:
                send_route(self, NOT_FOUND, self.server.stopping)
        except (ConnectionError, ssl.SSLError):
            pass  # the client gave up on us, as some tests expect it to

    def _feed(self, channel: Channel | None, *, catalog: bool) -> None:
        if channel is None:
            self._send(404, b"no such channel")
            return
        delay = channel.delay + self.server.latency
        if delay:
            time.sleep(delay)
        if channel.status != 200:
            self._send(channel.status, b"unavailable", channel.headers)
            return
        feed, listing = channel.bodies(self.server.base)
        body = listing if catalog else feed
        headers = {"Content-Type": "application/atom+xml; charset=UTF-8", **channel.headers}
        if self.server.validators and not catalog:
            etag = channel.etag(self.server.base)
            headers["ETag"] = etag
            headers["Last-Modified"] = formatdate(1_700_000_000 + channel.version, usegmt=True)
            if self.headers.get("If-None-Match") == etag:
                self._send(304, b"", headers)
                return
        self._send(200, body, headers)


def media_of(size: int) -> bytes:
    """Return `size` bytes (at least MEDIA's) that start like an MP4 file."""
    return (MEDIA * (size // len(MEDIA) + 1))[: max(size, len(MEDIA))]


class FeedServer(ThreadingHTTPServer):
    """Serve synthetic channels and the tests' routes from a background thread.

    Args:
        channels: how many channels to create, each with `uploads` uploads.
        validators: answer feeds with ETag/Last-Modified and honour If-None-Match.
        port: 0 picks a free port.
        start: serve from a thread now (False: the caller runs `serve_forever`).
        latency: seconds every feed and catalog answer waits (on top of a
            channel's own `delay`), like a distant server.
        host: a loopback address; ``::1`` makes an IPv6 server.
        tls: a server-side SSL context, or None for plain HTTP.
        keep_alive: False answers in HTTP/1.0, one request per connection.
        record: keep every request in `requests` (the benchmark's server does not).

    The benchmark steers a server in another process with POST /_bench/…
    (see `control`) and reads GET /_bench/stats.
    """

    daemon_threads = True  # hung handlers must not keep the test process alive
    request_queue_size = 1024

    def __init__(
        self,
        channels: int = 0,
        uploads: int = 3,
        *,
        validators: bool = True,
        port: int = 0,
        start: bool = True,
        latency: float = 0.0,
        host: str = "127.0.0.1",
        tls: ssl.SSLContext | None = None,
        keep_alive: bool = True,
        record: bool = True,
    ) -> None:
        self.address_family = socket.AF_INET6 if ":" in host else socket.AF_INET
        super().__init__((host, port), _Handler)
        if tls is not None:
            self.socket = tls.wrap_socket(self.socket, server_side=True)
        self.validators = validators
        self.latency = latency
        self.keep_alive = keep_alive
        self.recording = record
        self.served = 0
        self.media = MEDIA  # the body of every /watch?v=ID
        self._upload_round = 0
        self.base = self.url("")
        self.by_id: dict[str, Channel] = {}
        self.routes: dict[str, Route | Answer] = {}
        self.requests: list[Request] = []
        self.hits: dict[str, int] = {}
        self.stopping = threading.Event()
        self._lock = threading.Lock()
        now = time.time()
        for _ in range(channels):
            channel = self.add_channel()
            for i in range(uploads):
                channel.upload(published=now - 86400 * (uploads - i))
        self._thread: threading.Thread | None = None
        if start:
            self._thread = threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True)
            self._thread.start()

    def url(self, path: str, host: str | None = None) -> str:
        """Return the URL of `path` on this server, optionally via `host`."""
        scheme = "https" if isinstance(self.socket, ssl.SSLSocket) else "http"
        address, port = str(self.server_address[0]), self.server_address[1]
        host = host or (f"[{address}]" if ":" in address else address)
        return f"{scheme}://{host}:{port}{path}"

    def add_channel(self) -> Channel:
        """Create an empty channel and return it."""
        channel = Channel(len(self.by_id))
        self.by_id[channel.id] = channel
        return channel

    def channel(self, number: int) -> Channel:
        return self.by_id[channel_id(number)]

    def feed_url(self, number: int) -> str:
        return f"{self.base}/feeds/videos.xml?channel_id={channel_id(number)}"

    def set_raw(
        self, name: str, body: bytes, status: int = 200, content_type: str = "application/rss+xml"
    ) -> str:
        """Serve `body` at /raw/NAME; return its URL."""
        self.routes[f"/raw/{name}"] = lambda h: reply(
            h, status, body, {"Content-Type": content_type}
        )
        return f"{self.base}/raw/{name}"

    def count(self, path: str) -> None:
        """Count one request, keyed by its whole target (path and query).

        The query is part of the key because every channel's feed shares the
        path /feeds/videos.xml and differs only in ?channel_id=….
        """
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.served += 1

    def record(self, handler: BaseHTTPRequestHandler) -> None:
        """Count a request and, when recording, keep it in `requests`."""
        self.count(handler.path)
        if self.recording:
            self.requests.append(Request(handler.command, handler.path, handler.headers))

    def stats(self) -> dict[str, float]:
        """Requests served and this process's CPU seconds so far."""
        times = os.times()
        return {
            "requests": self.served,
            "cpu_s": times.user + times.system,
            "channels": len(self.by_id),
        }

    def control(self, command: str, query: dict[str, str], body: bytes) -> dict:
        """Change what the server answers (the benchmark's remote control).

        - ``upload?share=0.02``: one new upload on that share of the channels,
          spread evenly and different ones each call; returns their numbers.
        - ``set?latency=0.02&validators=0&media=300000``: server-wide answer latency,
          304s on/off, the size of the media file /watch serves.
        - ``delay?first=0&count=5&seconds=10``: per-channel extra delay.
        - ``raw?name=pod`` with the body: serve it at /raw/NAME.
        """
        if command == "upload":
            share = float(query.get("share", "0"))
            total = len(self.by_id)
            changed = round(total * share)
            numbers: list[int] = []
            if changed:
                step = total / changed
                offset = self._upload_round % max(1, int(step))
                self._upload_round += 1
                numbers = sorted({(int(i * step) + offset) % total for i in range(changed)})
                for number in numbers:
                    self.channel(number).upload()
            return {"changed": len(numbers), "channels": numbers}
        if command == "set":
            if "latency" in query:
                self.latency = float(query["latency"])
            if "validators" in query:
                self.validators = query["validators"] not in ("0", "false", "off")
            if "media" in query:
                self.media = media_of(int(query["media"]))
            return {
                "latency": self.latency,
                "validators": self.validators,
                "media": len(self.media),
            }
        if command == "delay":
            first, count = int(query.get("first", "0")), int(query.get("count", "1"))
            seconds = float(query["seconds"])
            for number in range(first, first + count):
                self.channel(number).delay = seconds
            return {"delayed": count}
        if command == "raw":
            name = query["name"]
            url = self.set_raw(name, body, content_type=query.get("type", "application/rss+xml"))
            return {"url": url}
        raise KeyError(command)

    def handle_error(self, request, client_address):  # type: ignore[no-untyped-def]
        # A client killed mid-answer is what the timeout tests do on purpose; report the rest.
        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)

    def stop(self) -> None:
        """Release hung answers, stop serving and close the listening socket."""
        self.stopping.set()
        if self._thread is not None:
            self.shutdown()
        self.server_close()
        if self._thread is not None:
            self._thread.join(5)


def main() -> None:
    """Run the server in the foreground (the benchmark starts it this way)."""
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--channels", type=int, default=100)
    parser.add_argument("--uploads", type=int, default=3)
    parser.add_argument("--no-validators", action="store_true")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds per feed answer")
    args = parser.parse_args()
    server = FeedServer(
        args.channels,
        args.uploads,
        validators=not args.no_validators,
        port=args.port,
        start=False,
        latency=args.latency,
        record=False,  # hundreds of thousands of requests: count them, keep none
    )
    print(server.base, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
