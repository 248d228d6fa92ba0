"""Where a channel's feed lives: turn what a user pastes into a channel spec.

Two kinds of source: YouTube channels (`youtube.py`), whose feed and catalog
URLs are built from the channel id on top of TUBEPOLLER_YOUTUBE_URL, and any
other RSS/Atom feed (`feed.py`), polled at the URL the user gave.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..errors import UnusableURL
from . import feed, youtube

YOUTUBE = "youtube"
FEED = "feed"


@dataclass(frozen=True)
class ChannelSpec:
    """What we store about a channel before its first poll."""

    kind: str
    external_id: str | None
    feed_url: str  # canonical; unique per channel


def resolve(url: str, settings: Settings) -> ChannelSpec:
    """Return the channel a user-supplied URL names.

    Raises:
        UnusableURL: the URL is neither a YouTube channel nor an http(s) feed,
            or points at a private address while those are not allowed.
    """
    url = url.strip()
    if not url:
        raise UnusableURL("the URL is empty")
    channel_id = youtube.channel_id_from(url)
    if channel_id:
        return ChannelSpec(YOUTUBE, channel_id, youtube.canonical_feed_url(channel_id))
    if youtube.looks_like_youtube(url):
        raise UnusableURL(
            "use the channel's /channel/UC… URL (handles and /c/ names are not supported yet)"
        )
    return ChannelSpec(FEED, None, feed.check_feed_url(url, settings))


def feed_url(kind: str, external_id: str | None, stored_url: str, settings: Settings) -> str:
    """Return the URL to poll for a channel, honouring TUBEPOLLER_YOUTUBE_URL."""
    if kind == YOUTUBE and external_id:
        return youtube.feed_url(external_id, settings.youtube_url)
    return stored_url


def catalog_url(kind: str, external_id: str | None, settings: Settings) -> str | None:
    """Return the URL yt-dlp lists the whole catalog from, or None when the feed is it."""
    if kind == YOUTUBE and external_id:
        return youtube.catalog_url(external_id, settings.youtube_url)
    return None
