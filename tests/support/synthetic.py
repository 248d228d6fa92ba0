"""Synthetic YouTube channels: their ids, uploads and bodies in YouTube's formats.

A channel's Atom feed (the latest 15 uploads) and its catalog page (every
upload, as an RSS 2.0 document yt-dlp's generic extractor lists) are rendered
once per change, so the feed server answers from memory.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass, field
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
        head = f"<title>Channel {self.number}</title><link>{base}/channel/{self.id}</link>"
        return rss_document(head, items)


def rss_document(head: str, items: str) -> bytes:
    """Return an RSS 2.0 document: the channel's `head` elements, then its `items`."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?><rss version="2.0"><channel>'
        f"{head}{items}</channel></rss>"
    ).encode()


def _iso(epoch: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S+00:00", time.gmtime(epoch))
