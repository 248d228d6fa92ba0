"""The fake YouTube's uploads playlists, premieres, deletions and bursts.

Extends `tests.support.feedserver.FeedServer` (by subclass, so the benchmark's
server is unchanged) with what YouTube does and the plain fake does not:

- ``/feeds/videos.xml?playlist_id=UULF…|UUSH…|UULV…|UUMO…|UU…``: the feed of
  one uploads playlist of a channel, its 15 newest; a channel made with
  ``long_form=False`` answers 404 for UULF, as some real channels do;
- upcoming entries (a premiere or a scheduled stream): in the channel feed
  and UU from the start, with their start time, in no kind's playlist until
  `start` turns them into a video or a past live;
- `delete`: the entry leaves every feed, so the 16th slides back in;
- `burst`: many uploads at once, more than the 15-entry window holds;
- ``truncated``: the channel feed is cut short mid-entry (not well-formed
  XML, yet feedparser recovers the entries before the cut).

The real feed carries no marker on an upcoming entry; yt-dlp's metadata
(``live_status``, ``release_timestamp``) does. The fake puts the start time
in the entry as ``<yt:scheduledStartTime>`` and hands the same facts out as
a yt-dlp-shaped dict from `KindedChannel.metadata`, for the code that would
ask yt-dlp.
"""

from __future__ import annotations

import json
import os
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qs, urlsplit
from xml.sax.saxutils import escape

import pytest

from poller.kinds import LIVE, MEMBERS_ONLY, SHORT, UPCOMING, VIDEO

from .feedserver import FeedServer, _Handler
from .synthetic import WINDOW, Channel, _iso, video_id

# yt-dlp's extractor of the fake's watch pages (see its docstring).
WATCH_PLUGINS = Path(__file__).resolve().parent / "ytdlp_watch_plugins"


def watch_plugin_path(environ: dict[str, str] | os._Environ[str]) -> str:
    """Return ``environ``'s PYTHONPATH with the watch-page plugin first."""
    return os.pathsep.join(p for p in (str(WATCH_PLUGINS), environ.get("PYTHONPATH", "")) if p)


def use_watch_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let yt-dlp processes this test starts read the fake's watch pages' metadata."""
    monkeypatch.setenv("PYTHONPATH", watch_plugin_path(os.environ))


# Each prefix lists these kinds (YOUTUBE-NOTES.md, "Uploads playlists").
PLAYLIST_KINDS = {
    "UU": (VIDEO, SHORT, LIVE, UPCOMING, MEMBERS_ONLY),
    "UULF": (VIDEO,),
    "UUSH": (SHORT,),
    "UULV": (LIVE,),
    "UUMO": (MEMBERS_ONLY,),
}
# Longest first, so that "UULF…" is not read as "UU" + "LF…".
_PREFIXES = sorted(PLAYLIST_KINDS, key=len, reverse=True)
_ATOM_HEAD = (
    '<?xml version="1.0" encoding="UTF-8"?>'
    '<feed xmlns:yt="http://www.youtube.com/xml/schemas/2015" '
    'xmlns:media="http://search.yahoo.com/mrss/" xmlns="http://www.w3.org/2005/Atom">'
)


@dataclass
class KindedChannel(Channel):
    """A synthetic channel whose uploads have kinds, and that can lose one."""

    kinds: dict[str, str] = field(default_factory=dict)  # id → media type
    starts: dict[str, float] = field(default_factory=dict)  # upcoming id → start
    becomes: dict[str, str] = field(default_factory=dict)  # upcoming id → kind once started
    long_form: bool = True  # False: no UULF playlist, its feed answers 404
    truncated: bool = False  # serve the channel feed cut short (see `cut_feed`)
    made: int = 0  # uploads ever made: ids stay unique after a deletion

    def upload(self, title: str | None = None, published: float | None = None) -> str:
        """Add an upload; return its id (never one a deleted upload had)."""
        vid = video_id(self.number, self.made)
        self.made += 1
        when = published if published is not None else time.time()
        self.uploads.append((vid, title or f"Upload {self.made - 1} of {self.id}", when))
        self.version += 1
        return vid

    def add(
        self,
        kind: str = VIDEO,
        *,
        title: str | None = None,
        published: float | None = None,
        start_at: float | None = None,
    ) -> str:
        """Add an upload of `kind`; return its id.

        Args:
            kind: a media type; UPCOMING needs `start_at`.
            title: its title; a default names it.
            published: when the entry was made; now by default.
            start_at: an upcoming video's start.
        """
        vid = self.upload(title, published)
        self.kinds[vid] = kind
        if kind == UPCOMING:
            if start_at is None:
                raise ValueError("an upcoming video needs its start time")
            self.starts[vid] = start_at
            self.becomes[vid] = VIDEO
        return vid

    def schedule(self, start_at: float, *, stream: bool = False, title: str | None = None) -> str:
        """Add a premiere (or a scheduled stream); return its id."""
        vid = self.add(UPCOMING, title=title, start_at=start_at)
        self.becomes[vid] = LIVE if stream else VIDEO
        return vid

    def start(self, vid: str) -> None:
        """Make an upcoming video watchable: a premiere a video, a stream a past live."""
        self.kinds[vid] = self.becomes.pop(vid)
        self.starts.pop(vid)
        self.version += 1

    def delete(self, vid: str) -> None:
        """Remove an upload from every feed and the catalog."""
        self.uploads = [u for u in self.uploads if u[0] != vid]
        for table in (self.kinds, self.starts, self.becomes):
            table.pop(vid, None)
        self.version += 1

    def cut_feed(self, truncated: bool = True) -> None:
        """Serve the channel feed cut short mid-entry (or whole again)."""
        self.truncated = truncated
        self.version += 1

    def burst(self, count: int, kind: str = VIDEO, *, now: float | None = None) -> list[str]:
        """Add `count` uploads a second apart, ending at `now`; return their ids, oldest first."""
        end = time.time() if now is None else now
        return [self.add(kind, published=end - (count - 1 - i)) for i in range(count)]

    def playlist_ids(self, prefix: str) -> list[str] | None:
        """Return the ids a playlist feed shows, newest first; None when it does not exist."""
        if prefix == "UULF" and not self.long_form:
            return None
        listed = PLAYLIST_KINDS[prefix]
        ids = [u[0] for u in self.uploads if self.kinds.get(u[0], VIDEO) in listed]
        return list(reversed(ids[-WINDOW:]))

    def metadata(self, vid: str) -> dict[str, object]:
        """Return what yt-dlp would say of one upload (the fields tubepoller reads)."""
        kind = self.kinds.get(vid, VIDEO)
        published = next(u[2] for u in self.uploads if u[0] == vid)
        return {
            "id": vid,
            "timestamp": int(published),
            "release_timestamp": int(self.starts[vid]) if vid in self.starts else None,
            "live_status": {UPCOMING: "is_upcoming", LIVE: "was_live"}.get(kind, "not_live"),
            "media_type": {SHORT: "short", LIVE: "livestream"}.get(kind, "video"),
            "availability": "subscriber_only" if kind == MEMBERS_ONLY else "public",
        }

    def _atom(self, base: str) -> bytes:
        body = self._feed(base, [u[0] for u in self.uploads][-WINDOW:], f"yt:channel:{self.id[2:]}")
        if self.truncated:
            # Cut inside the last entry: feedparser keeps the ones before it.
            body = body[: body.rfind(b"<entry>") + 40]
        return body

    def playlist_atom(self, base: str, prefix: str) -> bytes | None:
        """Return the Atom feed of one uploads playlist, None when it does not exist."""
        ids = self.playlist_ids(prefix)
        if ids is None:
            return None
        return self._feed(base, list(reversed(ids)), f"yt:playlist:{prefix}{self.id[2:]}")

    def _feed(self, base: str, ids_oldest_first: list[str], feed_id: str) -> bytes:
        uploads = {u[0]: u for u in self.uploads}
        entries = []
        for vid in reversed(ids_oldest_first):
            _, title, published = uploads[vid]
            start = (
                f"<yt:scheduledStartTime>{_iso(self.starts[vid])}</yt:scheduledStartTime>"
                if vid in self.starts
                else ""
            )
            entries.append(
                f"<entry><id>yt:video:{vid}</id><yt:videoId>{vid}</yt:videoId>"
                f"<yt:channelId>{self.id}</yt:channelId><title>{escape(title)}</title>"
                f'<link rel="alternate" href="{base}/watch?v={vid}"/>'
                f"<published>{_iso(published)}</published><updated>{_iso(published)}</updated>"
                f"{start}</entry>"
            )
        return (
            f"{_ATOM_HEAD}<id>{feed_id}</id><yt:channelId>{self.id}</yt:channelId>"
            f"<title>Channel {self.number}</title>{''.join(entries)}</feed>"
        ).encode()


class _PlaylistHandler(_Handler):
    server: PlaylistFeedServer

    def do_GET(self) -> None:  # noqa: N802 (stdlib name)
        parts = urlsplit(self.path)
        if parts.path.startswith("/meta/"):
            self.server.count(self.path)
            meta = self.server.metadata(parts.path.removeprefix("/meta/"))
            if meta is None:
                self._send(404, b"no such video")
            else:
                self._send(200, json.dumps(meta).encode(), {"Content-Type": "application/json"})
            return
        playlist = parse_qs(parts.query).get("playlist_id", [""])[0]
        if parts.path != "/feeds/videos.xml" or not playlist:
            super().do_GET()
            return
        self.server.count(self.path)
        body = self.server.playlist_feed(playlist)
        refusal = self.server.playlist_refusal
        try:
            if refusal is not None:
                self._send(refusal, b"Too Many Requests", {"Retry-After": "120"})
            elif body is None:
                self._send(404, b"no such playlist")
            else:
                self._send(200, body, {"Content-Type": "application/atom+xml; charset=UTF-8"})
        except (BrokenPipeError, ConnectionResetError):
            pass


class PlaylistFeedServer(FeedServer):
    """A `FeedServer` whose channels are `KindedChannel`s with playlist feeds."""

    def __init__(self, channels: int = 0, uploads: int = 3, **options: object) -> None:
        start = options.pop("start", True)
        super().__init__(channels, uploads, start=False, **options)  # type: ignore[arg-type]
        self.RequestHandlerClass = _PlaylistHandler
        # A status every playlist feed answers with (429: the host's refusal
        # met on the poll's second request); None serves them.
        self.playlist_refusal: int | None = None
        if start:
            threading.Thread(target=self.serve_forever, args=(0.05,), daemon=True).start()

    def add_channel(self, *, long_form: bool = True) -> KindedChannel:  # type: ignore[override]
        """Create an empty channel and return it."""
        channel = KindedChannel(len(self.by_id), long_form=long_form)
        self.by_id[channel.id] = channel
        return channel

    def channel(self, number: int) -> KindedChannel:
        found = super().channel(number)
        assert isinstance(found, KindedChannel)
        return found

    def playlist_url(self, number: int, prefix: str) -> str:
        """Return the feed URL of one uploads playlist of channel `number`."""
        return f"{self.base}/feeds/videos.xml?playlist_id={prefix}{self.channel(number).id[2:]}"

    def metadata(self, vid: str) -> dict[str, object] | None:
        """Return yt-dlp's metadata of one upload of any channel, None when there is none."""
        for channel in list(self.by_id.values()):
            if isinstance(channel, KindedChannel) and any(u[0] == vid for u in channel.uploads):
                return channel.metadata(vid)
        return None

    def playlist_feed(self, playlist_id: str) -> bytes | None:
        """Return the body of a playlist feed, None for an unknown playlist."""
        for prefix in _PREFIXES:
            if playlist_id.startswith(prefix):
                channel = self.by_id.get("UC" + playlist_id[len(prefix) :])
                if isinstance(channel, KindedChannel):
                    return channel.playlist_atom(self.base, prefix)
        return None
