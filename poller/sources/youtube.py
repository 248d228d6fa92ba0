"""YouTube channels and playlists: the URLs people paste, ids, and the URLs built from them.

Only ``/channel/UC…`` and feed URLs carry a channel id; handles, ``/c/`` and
``/user/`` names and video URLs name a page that names the channel
(`channel_id_in_page`). Parsing here never touches the network.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from urllib.parse import parse_qs, quote, urlsplit

CANONICAL_BASE = "https://www.youtube.com"
_CHANNEL_ID = re.compile(r"UC[0-9A-Za-z_-]{22}")
_VIDEO_ID = re.compile(r"[0-9A-Za-z_-]{11}")
_PLAYLIST_ID = re.compile(r"[0-9A-Za-z_-]{10,64}")
# Mixes, "watch later" and "liked" are per-viewer lists with no public feed.
_PRIVATE_LISTS = ("RD", "WL", "LL")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "music.youtube.com"}
_SHORT_HOST = "youtu.be"

# How a channel page or a watch page names its channel, most specific first:
# the canonical link of a channel page, the channelId meta of both, and the
# ids in the page's JSON.
_PAGE_PATTERNS = tuple(
    re.compile(pattern)
    for pattern in (
        rb'<link rel="canonical" href="https?://[^"/]+/channel/(UC[0-9A-Za-z_-]{22})"',
        rb'<meta itemprop="(?:channelId|identifier)" content="(UC[0-9A-Za-z_-]{22})"',
        rb'"externalId":"(UC[0-9A-Za-z_-]{22})"',
        rb'"channelId":"(UC[0-9A-Za-z_-]{22})"',
    )
)


@dataclass(frozen=True)
class YouTubeURL:
    """What a pasted YouTube URL names.

    Attributes:
        channel_id: the UC… id, when the URL carries it.
        playlist_id: a playlist to follow as its own source.
        page_path: a page under the YouTube base that names the channel
            (``/@handle``, ``/c/name``, ``/user/name``, ``/watch?v=ID``).
    """

    channel_id: str | None = None
    playlist_id: str | None = None
    page_path: str | None = None


def looks_like_youtube(url: str) -> bool:
    """Return True when the URL's host is a YouTube host."""
    host = (urlsplit(url).hostname or "").lower()
    return host in _YOUTUBE_HOSTS or host == _SHORT_HOST


def parse_url(url: str) -> YouTubeURL | None:
    """Return what a YouTube URL names, or None when its shape is not one we follow.

    Accepts ``/channel/UC…``, ``/feeds/videos.xml?channel_id=|playlist_id=``,
    ``/@handle``, ``/c/name``, ``/user/name``, ``/playlist?list=…`` (any URL
    with ``list=``), ``/watch?v=ID``, ``youtu.be/ID``, ``/shorts/ID`` and
    ``/live/ID``. The channel's uploads playlist (``UU…``) is the channel.
    """
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    segments = [s for s in parts.path.split("/") if s]
    query = parse_qs(parts.query)
    if host == _SHORT_HOST:
        return _video(segments[0]) if segments else None
    if host not in _YOUTUBE_HOSTS:
        return None
    listed = (query.get("list") or query.get("playlist_id") or [""])[0]
    if listed:
        return _playlist(listed)
    if parts.path.rstrip("/") == "/feeds/videos.xml":
        channel_id = (query.get("channel_id") or [""])[0]
        return YouTubeURL(channel_id=channel_id) if _CHANNEL_ID.fullmatch(channel_id) else None
    if not segments:
        return None
    first = segments[0]
    if first == "channel" and len(segments) >= 2 and _CHANNEL_ID.fullmatch(segments[1]):
        return YouTubeURL(channel_id=segments[1])
    if first.startswith("@") and len(first) > 1:
        return YouTubeURL(page_path="/" + quote(first, safe="@._-"))
    if first in ("c", "user") and len(segments) >= 2:
        return YouTubeURL(page_path=f"/{first}/{quote(segments[1], safe='._-')}")
    if first == "watch":
        return _video((query.get("v") or [""])[0])
    if first in ("shorts", "live", "embed") and len(segments) >= 2:
        return _video(segments[1])
    return None


def _video(video_id: str) -> YouTubeURL | None:
    if not _VIDEO_ID.fullmatch(video_id):
        return None
    return YouTubeURL(page_path=f"/watch?v={video_id}")


def _playlist(playlist_id: str) -> YouTubeURL | None:
    if not _PLAYLIST_ID.fullmatch(playlist_id) or playlist_id.startswith(_PRIVATE_LISTS):
        return None
    if playlist_id.startswith("UU") and _CHANNEL_ID.fullmatch("UC" + playlist_id[2:]):
        return YouTubeURL(channel_id="UC" + playlist_id[2:])
    return YouTubeURL(playlist_id=playlist_id)


def channel_id_in_page(html: bytes) -> str | None:
    """Return the UC… id a channel or watch page names, or None."""
    for pattern in _PAGE_PATTERNS:
        found = pattern.search(html)
        if found:
            return found.group(1).decode("ascii")
    return None


def is_channel_id(source_id: str) -> bool:
    """Return True for a channel's UC… id (otherwise a playlist id)."""
    return bool(_CHANNEL_ID.fullmatch(source_id))


def canonical_feed_url(source_id: str) -> str:
    """Return the feed URL we store for a channel or playlist (one row each)."""
    return feed_url(source_id, CANONICAL_BASE)


def feed_url(source_id: str, base: str) -> str:
    """Return the Atom feed of a channel's (or playlist's) latest 15 uploads."""
    key = "channel_id" if is_channel_id(source_id) else "playlist_id"
    return f"{base}/feeds/videos.xml?{key}={source_id}"


def catalog_url(source_id: str, base: str) -> str:
    """Return the page yt-dlp lists the whole catalog from."""
    if is_channel_id(source_id):
        return f"{base}/channel/{source_id}/videos"
    return f"{base}/playlist?list={source_id}"


def watch_url(video_id: str, base: str) -> str:
    """Return the page yt-dlp downloads a video from."""
    return f"{base}/watch?v={video_id}"
