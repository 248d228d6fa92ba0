"""What a notification says, and what may be shown of its target: pure functions.

No database, no network: the events a target may ask for, the title and body
of one event's message, an Apprise URL with its secrets masked, and the wait
before a failed delivery is tried again.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .errors import UnknownEvent
from .models import CHANNEL_FAILING, DOWNLOAD_FAILED, DOWNLOADED, HOST_PAUSED, NEW_EPISODE

# The events a notification target may ask for, in the order they are listed.
EVENTS = (NEW_EPISODE, DOWNLOADED, DOWNLOAD_FAILED, CHANNEL_FAILING, HOST_PAUSED)
TEST = "test"  # the kind of `tubepoller notify test`'s message: no event behind it

MAX_BACKOFF_S = 300.0  # a retry waits at most this long (and the sweep waits longer)
MASK = "****"
# Query parameters whose value is a secret whatever the service: Apprise masks
# the ones it knows in its "privacy" URL, not headers (+Name=value) it passes on.
_SECRET_PARAM = re.compile(r"^\+|token|key|secret|pass|auth", re.IGNORECASE)

_TITLES = {
    NEW_EPISODE: "New episode",
    DOWNLOADED: "Downloaded",
    DOWNLOAD_FAILED: "Download failed",
    CHANNEL_FAILING: "Channel failing",
    HOST_PAUSED: "Host paused",
    TEST: "tubepoller test",
}


def check_events(names: Iterable[str]) -> list[str]:
    """Return the events named, each once, in `EVENTS` order.

    Raises:
        UnknownEvent: a name is no event, or none is named.
    """
    wanted = [name.strip() for name in names if name.strip()]
    unknown = sorted(set(wanted) - set(EVENTS))
    if unknown:
        raise UnknownEvent(
            f"unknown event {', '.join(map(repr, unknown))}; the events are: {', '.join(EVENTS)}"
        )
    if not wanted:
        raise UnknownEvent(f"name at least one event of: {', '.join(EVENTS)}")
    return [name for name in EVENTS if name in wanted]


@dataclass(frozen=True)
class Notice:
    """What one message is about, as loaded for its delivery."""

    kind: str
    channel_title: str = ""
    channel_url: str = ""
    video_title: str = ""
    video_url: str = ""
    published_at: float | None = None
    payload: dict[str, Any] = field(default_factory=dict)


def compose(notice: Notice) -> tuple[str, str]:
    """Return the title and body of a notice's message.

    The body names the channel, the video, its URL and when it was published,
    one per line, and then what the event adds (the file, the reason).
    """
    from .listings.shapes import iso  # not at import: the read layer imports this module

    about = (
        notice.video_title
        or notice.channel_title
        or notice.channel_url
        or notice.payload.get("host", "")
    )
    name = _TITLES.get(notice.kind, notice.kind)
    title = f"{name}: {about}" if about and notice.kind != TEST else name
    lines = []
    if notice.channel_title or notice.channel_url:
        lines.append(f"Channel: {notice.channel_title or notice.channel_url}")
    if notice.video_title or notice.video_url:
        lines.append(f"Video: {notice.video_title}")
        lines.append(f"URL: {notice.video_url}")
        lines.append(f"Published: {iso(notice.published_at) or 'unknown'}")
    for key, label in (("path", "File"), ("error", "Error"), ("host", "Host"), ("until", "Until")):
        if notice.payload.get(key):
            lines.append(f"{label}: {notice.payload[key]}")
    if notice.kind == TEST:
        lines.append("This target receives tubepoller's notifications.")
    return title[:250], "\n".join(lines)


def masked_url(given: str, private: str | None) -> str:
    """Return a target's URL as it may be shown: no password, token or key in full.

    Args:
        given: the URL as the user gave it.
        private: Apprise's own masked form of it (`url(privacy=True)`), which
            knows each service's secrets; None when Apprise cannot read it.
            Its query parameters the user did not give (Apprise's defaults)
            are left out, and those that look like secrets are masked.
    """
    try:
        shown = private if private else _strip_password(given)
        parts = urllib.parse.urlsplit(shown)
        given_keys = {k for k, _ in _params(urllib.parse.urlsplit(given).query)}
    except ValueError:  # not even a URL's shape ("json://[::1"): show its scheme only
        return given.partition(":")[0][:20] + "://" + MASK
    kept = [
        (k, MASK if _SECRET_PARAM.search(k) else v)
        for k, v in _params(parts.query)
        if k in given_keys or (private is None)
    ]
    query = "&".join(f"{k}={v}" for k, v in kept)
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, parts.path, query, ""))


def _params(query: str) -> list[tuple[str, str]]:
    """Split a query into its raw pairs; a "+" stays a "+" (Apprise's header prefix)."""
    pairs = [part.partition("=") for part in query.split("&") if part]
    return [(urllib.parse.unquote(k), v) for k, _, v in pairs]


def _strip_password(url: str) -> str:
    """Mask the password of a URL Apprise could not read, and its whole path."""
    parts = urllib.parse.urlsplit(url)
    netloc = parts.netloc.rpartition("@")[2]
    if "@" in parts.netloc:
        netloc = f"{MASK}@{netloc}"
    return urllib.parse.urlunsplit((parts.scheme, netloc, "/" + MASK if parts.path else "", "", ""))


def retry_delay(retries: int, base_s: float, jitter: float) -> float:
    """Return the seconds before a delivery's next attempt.

    Args:
        retries: the retries made so far (0 before the first retry).
        base_s: the first wait (TUBEPOLLER_NOTIFY_BACKOFF).
        jitter: a number in [0, 1): up to half the wait is added, so targets
            failing together do not come back together.
    """
    wait = min(MAX_BACKOFF_S, base_s * 2 ** max(0, retries))
    return min(MAX_BACKOFF_S, wait * (1 + jitter / 2))
