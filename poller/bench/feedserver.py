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
    _rendered: tuple[int, bytes, bytes] | None = None  # version, feed, catalog

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
        if self._rendered is None or self._rendered[0] != self.version:
            self._rendered = (self.version, self._atom(base), self._rss(base))
        return self._rendered[1], self._rendered[2]

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
    protocol_version = "HTTP/1.1"  # keep-alive, as a real server offers

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002 (stdlib name)
        pass

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
            else:
                self._send(404, b"not found")
        except (BrokenPipeError, ConnectionResetError):
            pass

    def _feed(self, channel: Channel | None, *, catalog: bool) -> None:
        if channel is None:
            self._send(404, b"no such channel")
            return
        if channel.delay:
            time.sleep(channel.delay)
        if channel.status != 200:
            self._send(channel.status, b"unavailable", channel.headers)
            return
        feed, listing = channel.bodies(self.server.base)
        body = listing if catalog else feed
        headers = {"Content-Type": "application/atom+xml; charset=UTF-8", **channel.headers}
        if self.server.validators and not catalog:
            etag = '"' + hashlib.md5(body).hexdigest() + '"'  # noqa: S324 (not security)
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
        self.end_headers()
        if body:
            self.wfile.write(body)


class FeedServer(ThreadingHTTPServer):
    """Serve synthetic channels on 127.0.0.1 from a background thread.

    Args:
        channels: how many channels to create, each with `uploads` uploads.
        validators: answer with ETag/Last-Modified and honour If-None-Match.
        port: 0 picks a free port.
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
    ) -> None:
        super().__init__(("127.0.0.1", port), _Handler)
        self.validators = validators
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
    args = parser.parse_args()
    server = FeedServer(
        args.channels, args.uploads, validators=not args.no_validators, port=args.port, start=False
    )
    print(server.base, flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
