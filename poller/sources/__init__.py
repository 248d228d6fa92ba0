"""Where a channel's feed lives: turn what a user pastes into a channel spec.

Two kinds of source: YouTube channels and playlists (`youtube.py`), whose
feed and catalog URLs are built from the channel or playlist id on top of
TUBEPOLLER_YOUTUBE_URL, and any other RSS/Atom feed (`feed.py`), polled at
the URL the user gave. A handle, a /c/ or /user/ name or a video URL is
resolved to its channel's id by reading that page, so every URL of one
channel is one stored channel.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Settings
from ..errors import PollError, UnusableURL
from ..fetch import FetchResult, fetch
from ..netguard import split_url
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
        UnusableURL: the URL is neither a YouTube channel, video or playlist
            nor an http(s) feed; its YouTube page names no channel; or it
            points at a private address while those are not allowed.
    """
    url = url.strip()
    if not url:
        raise UnusableURL("the URL is empty")
    split_url(url)  # a URL that cannot be parsed is refused before any use of it
    if youtube.looks_like_youtube(url):
        return _youtube(url, settings)
    return ChannelSpec(FEED, None, feed.check_feed_url(url, settings))


def _youtube(url: str, settings: Settings) -> ChannelSpec:
    named = youtube.parse_url(url)
    if named is None:
        raise UnusableURL(
            "not a YouTube URL we can follow: use a channel (/channel/UC…, /@handle, "
            "/c/NAME, /user/NAME), a video of the channel, or a playlist (list=…)"
        )
    if named.page_path is not None:
        source_id = _channel_named_by(named.page_path, settings)
    else:  # exactly one of the three is set
        source_id = named.channel_id or named.playlist_id or ""
    return ChannelSpec(YOUTUBE, source_id, youtube.canonical_feed_url(source_id))


def _channel_named_by(page_path: str, settings: Settings) -> str:
    """Fetch a YouTube page under TUBEPOLLER_YOUTUBE_URL; return the channel it names."""
    page = settings.youtube_url + page_path
    try:
        html = fetch_page(page, settings).body
    except PollError as exc:
        raise UnusableURL(f"could not read {page} to find its channel: {exc}") from None
    channel_id = youtube.channel_id_in_page(html)
    if channel_id is None:
        raise UnusableURL(f"the page {page} names no YouTube channel")
    return channel_id


def fetch_page(url: str, settings: Settings) -> FetchResult:
    """Fetch a page or feed under YouTube's base with the poll's limits and address guard.

    Raises:
        PollError: as `fetch.fetch` does.
    """
    return fetch(
        url,
        timeout=settings.rss_timeout,
        max_bytes=settings.max_feed_bytes,
        max_redirects=settings.max_redirects,
        allow_private=settings.allow_private_networks,
    )


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


def playlists_of(kind: str, external_id: str | None) -> str | None:
    """Return the channel id whose uploads playlists classify its videos, or None.

    Only a YouTube channel (UC…) has them; a playlist source or a feed does not.
    """
    if kind == YOUTUBE and external_id and youtube.is_channel_id(external_id):
        return external_id
    return None
