"""Plain RSS/Atom feeds: podcasts, PeerTube, blogs with enclosures."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from ..config import Settings
from ..errors import UnusableURL
from ..netguard import check_url

MAX_URL_LENGTH = 2048


def check_feed_url(url: str, settings: Settings) -> str:
    """Return the normalised feed URL, or raise UnusableURL with the reason.

    The host is resolved once here so a user hears at once that a URL points
    at a private network; the fetcher checks every connection again.
    """
    if len(url) > MAX_URL_LENGTH:
        raise UnusableURL(f"the URL is longer than {MAX_URL_LENGTH} characters")
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("http", "https"):
        raise UnusableURL(
            f"only http and https feeds can be polled, not {parts.scheme or 'a bare path'!r}"
        )
    check_url(url, allow_private=settings.allow_private_networks)
    # Lower-case scheme and host so the same feed is one channel; drop the fragment.
    return urlunsplit(
        (parts.scheme.lower(), parts.netloc.lower(), parts.path or "/", parts.query, "")
    )
