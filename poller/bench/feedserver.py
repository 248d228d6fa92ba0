"""A local stand-in for YouTube: channel feeds, catalog pages and media.

Serves synthetic channels in YouTube's own formats on loopback, so tests and
the benchmark never leave the machine (point TUBEPOLLER_YOUTUBE_URL at it):

- ``/feeds/videos.xml?channel_id=UC…``: the Atom feed of the latest 15
  uploads, with ETag/Last-Modified and 304s when validators are on;
- ``/channel/UC…/videos``: the whole catalog as an RSS 2.0 document, which
  yt-dlp's generic extractor lists as a playlist of ``/watch?v=ID`` links;
- ``/watch?v=ID``: a few bytes of "video/mp4" that yt-dlp downloads;
- ``/raw/NAME``: any body the test sets (podcasts, hostile input).

Bodies are rendered once per change and served from memory, so the server
is not what a benchmark measures. Run it in-process (`FeedServer`) or as its
own process (`python -m poller.bench.feedserver`).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from email.utils import formatdate
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

WINDOW = 15  # YouTube's feeds carry the latest 15 uploads
MEDIA = b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 64


def podcast_feed(count: int) -> bytes:
    """Return an RSS 2.0 podcast of `count` episodes, each with a guid and an enclosure.

    A plain feed lists every episode (no window of 15), which is what the
    query-count measurements need to add any number of new videos at once.
    """
    items = "".join(
        f"<item><guid>ep-{i}</guid><title>Episode {i}</title>"
        f'<enclosure url="http://127.0.0.1/ep-{i}.mp3" type="audio/mpeg"/>'
        f"<pubDate>Tue, 26 Nov 2030 10:00:{i % 60:02d} GMT</pubDate></item>"
        for i in range(count)
    )
    return f'<rss version="2.0"><channel><title>Pod</title>{items}</channel></rss>'.encode()


def channel_id(n: int) -> str:
    """Return the synthetic YouTube channel id of channel number `n`."""
    return f"UCbench{n:017d}"


def video_id(channel: int, n: int) -> str:
    """Return an 11-character YouTube-shaped video id."""
    return f"v{channel:05d}{n:05d}"[-11:]


@dataclass
class Channel:
    """One synthetic channel: its uploads and how the server answers for it."""

    number: int
    uploads: list[tuple[str, str, float]] = field(default_factory=list)  # id, title, published
    delay: float = 0.0  # seconds before answering
    status: int = 200  # answer this status instead of the feed
    headers: dict[str, str] = field(default_factory=dict)
    version: int = 0
    _rendered: tuple[int, bytes, bytes, str] | None = None  # version, feed, catalog, etag

    @property
    def id(self) -> str:
        return channel_id(self.number)

    def upload(self, title: str | None = None, published: float | None = None) -> str:
        """Add an upload; return its video id."""
        vid = video_id(self.number, len(self.uploads))
        self.uploads.append(
            (
                vid,
                title or f"Upload {len(self.uploads)} of {self.id}",
                published if published is not None else time.time(),
            )
        )
        self.version += 1
        return vid

    def bodies(self, base: str) -> tuple[bytes, bytes]:
        rendered = self._render(base)
        return rendered[1], rendered[2]

    def etag(self, base: str) -> str:
        """Return the feed's ETag, computed once per change."""
        return self._render(base)[3]

    def _render(self, base: str) -> tuple[int, bytes, bytes, str]:
        rendered = self._rendered
        if rendered is None or rendered[0] != self.version:
            feed = self._atom(base)
            etag = '"' + hashlib.md5(feed).hexdigest() + '"'  # noqa: S324 (not security)
            rendered = self._rendered = (self.version, feed, self._rss(base), etag)
        return rendered

    def _atom(self, base: str) -> bytes:
        entries = "".join(
            f"<entry><id>yt:video:{vid}</id><yt:videoId>{vid}</yt:videoId>"
            f"<yt:channelId>{self.id}</yt:channelId><title>{escape(title)}</title>"
            f'<link rel="alternate" href="{base}/watch?v={vid}"/>'
            f"<published>{_iso(published)}</published><updated>{_iso(published)}</updated>"
            f"</entry>"
            for vid, title, published in reversed(self.uploads[-WINDOW:])
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?>'
            '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
            'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
            f"<id>yt:channel:{self.id[2:]}</id><yt:channelId>{self.id}</yt:channelId>"
            f"<title>Channel {self.number}</title>{entries}</feed>"
        ).encode()

    def _rss(self, base: str) -> bytes:
        items = "".join(
            f"<item><title>{escape(title)}</title><link>{base}/watch?v={vid}</link>"
            f"<guid>{base}/watch?v={vid}</guid></item>"
            for vid, title, _ in reversed(self.uploads)
        )
        return (
            '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
            f"<title>Channel {self.number}</title><link>{base}/channel/{self.id}</link>"
            f"{items}</channel></rss>"
        ).encode()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))


class _Handler(BaseHTTPRequestHandler):
    server: FeedServer
    _headers_buffer: list[bytes]  # BaseHTTPRequestHandler's, written out by hand in _send
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server offers

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

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

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        self.server.count(self.path)
        parts = urlsplit(self.path)
        segments = [s for s in parts.path.split("/") if s]
        try:
            if parts.path == "/feeds/videos.xml":
                ids = parse_qs(parts.query).get("channel_id", [""])
                self._feed(self.server.by_id.get(ids[0]), catalog=False)
            elif len(segments) == 3 and segments[0] == "channel" and segments[2] == "videos":
                self._feed(self.server.by_id.get(segments[1]), catalog=True)
            elif parts.path == "/watch":
                self._send(200, MEDIA, {"Content-Type": "video/mp4"})
            elif segments[:1] == ["raw"] and len(segments) == 2 and segments[1] in self.server.raw:
                self.server.raw[segments[1]](self)
            elif parts.path == "/_bench/stats":
                stats = json.dumps(self.server.stats()).encode()
                self._send(200, stats, {"Content-Type": "application/json"})
            else:
                self._send(404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

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

    def _send(self, status: int, body: bytes, headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        # Headers and body in one write: one segment per answer on loopback.
        self._headers_buffer.append(b"\r\n")
        self.wfile.write(b"".join(self._headers_buffer) + body)
        self._headers_buffer = []


class FeedServer(ThreadingHTTPServer):
    """Serve synthetic channels on 127.0.0.1 from a background thread.

    Args:
        channels: how many channels to create, each with `uploads` uploads.
        validators: answer with ETag/Last-Modified and honour If-None-Match.
        port: 0 picks a free port.
        latency: seconds every feed and catalog answer waits (on top of a
            channel's own `delay`), like a distant server.

    The benchmark steers a server in another process with POST /_bench/…
    (see `control`) and reads GET /_bench/stats.
    """

    daemon_threads = True
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
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.validators = validators
        self.latency = latency
        self.requests = 0
        self._upload_round = 0
        self.base = f"http://127.0.0.1:{self.server_address[1]}"
        self.by_id: dict[str, Channel] = {}
        self.raw: dict[str, Callable[[BaseHTTPRequestHandler], None]] = {}
        self.hits: dict[str, int] = {}
        self._lock = threading.Lock()
        now = time.time()
        for _ in range(channels):
            channel = self.add_channel()
            for i in range(uploads):
                channel.upload(published=now - 86400 * (uploads - i))
        if start:
            threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

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

        def answer(handler: BaseHTTPRequestHandler) -> None:
            handler._send(status, body, {"Content-Type": content_type})  # type: ignore[attr-defined]

        self.raw[name] = answer
        return f"{self.base}/raw/{name}"

    def count(self, path: str) -> None:
        """Count one request, keyed by its whole target (path and query).

        The query is part of the key because every channel's feed shares the
        path /feeds/videos.xml and differs only in ?channel_id=….
        """
        with self._lock:
            self.hits[path] = self.hits.get(path, 0) + 1
            self.requests += 1

    def stats(self) -> dict[str, float]:
        """Requests served and this process's CPU seconds so far."""
        import os

        times = os.times()
        return {
            "requests": self.requests,
            "cpu_s": times.user + times.system,
            "channels": len(self.by_id),
        }

    def control(self, command: str, query: dict[str, str], body: bytes) -> dict:
        """Change what the server answers (the benchmark's remote control).

        - ``upload?share=0.02``: one new upload on that share of the channels,
          spread evenly and different ones each call; returns their numbers.
        - ``set?latency=0.02&validators=0``: server-wide answer latency, 304s on/off.
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
            return {"latency": self.latency, "validators": self.validators}
        if command == "delay":
            first, count = int(query.get("first", "0")), int(query.get("count", "1"))
            seconds = float(query["seconds"])
            for number in range(first, first + count):
                self.channel(number).delay = seconds
            return {"delayed": count}
        if command == "raw":
            name = query["name"]
            self.set_raw(name, body, content_type=query.get("type", "application/rss+xml"))
            return {"url": f"{self.base}/raw/{name}"}
        raise KeyError(command)

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


def main() -> None:
    """Run the server in the foreground (the benchmark starts it this way)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
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
    )
    print(server.base, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
