"""YouTube channels: ids and the URLs built from them."""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlsplit

CANONICAL_BASE = "https://www.youtube.com"
_CHANNEL_ID = re.compile(r"UC[0-9A-Za-z_-]{22}")
_YOUTUBE_HOSTS = {"youtube.com", "www.youtube.com", "m.youtube.com", "youtu.be"}


def looks_like_youtube(url: str) -> bool:
    """Return True when the URL's host is a YouTube host."""
    return (urlsplit(url).hostname or "").lower() in _YOUTUBE_HOSTS


def channel_id_from(url: str) -> str | None:
    """Return the UC… id of a YouTube channel or channel-feed URL, else None.

    Accepts ``https://www.youtube.com/channel/UC…[/videos]`` and
    ``https://www.youtube.com/feeds/videos.xml?channel_id=UC…``.
    The string is only parsed, never fetched.
    """
    if not looks_like_youtube(url):
        return None
    parts = urlsplit(url)
    segments = [s for s in parts.path.split("/") if s]
    if len(segments) >= 2 and segments[0] == "channel" and _CHANNEL_ID.fullmatch(segments[1]):
        return segments[1]
    if parts.path.rstrip("/") == "/feeds/videos.xml":
        ids = parse_qs(parts.query).get("channel_id", [])
        if ids and _CHANNEL_ID.fullmatch(ids[0]):
            return ids[0]
    return None


def canonical_feed_url(channel_id: str) -> str:
    """Return the feed URL we store for a channel (one row per channel)."""
    return feed_url(channel_id, CANONICAL_BASE)


def feed_url(channel_id: str, base: str) -> str:
    """Return the channel's Atom feed of its latest 15 uploads."""
    return f"{base}/feeds/videos.xml?channel_id={channel_id}"


def catalog_url(channel_id: str, base: str) -> str:
    """Return the page yt-dlp lists the channel's whole catalog from."""
    return f"{base}/channel/{channel_id}/videos"


def watch_url(video_id: str, base: str) -> str:
    """Return the page yt-dlp downloads a video from."""
    return f"{base}/watch?v={video_id}"
