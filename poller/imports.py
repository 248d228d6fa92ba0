"""Bring subscriptions in and out: OPML, and YouTube's subscriptions.csv.

An import subscribes one user to every channel a file names, a hundred
entries per transaction of a fixed number of queries (each handle's page is
read before, never while the database's write lock is held), and reports
what it did: added, already there, refused with the reason. Imported
channels are due at once, so the next tick polls them.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from xml.sax.saxutils import quoteattr

import listparser

from . import sources
from .config import Settings
from .errors import TubepollerError, UnusableURL
from .models import FUTURE_ONLY, Channel, Subscription, User
from .subscriptions import subscribe_many

CHUNK = 100  # entries per transaction, and between two progress reports
MAX_ENTRIES = 100_000


@dataclass(frozen=True)
class Listed:
    """One subscription a file names."""

    url: str
    title: str = ""


@dataclass
class Imported:
    """What an import did, entry by entry."""

    added: int = 0
    already: int = 0
    refused: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    @property
    def seen(self) -> int:
        return self.added + self.already + len(self.refused)

    def summary(self) -> str:
        """Return the one-line summary printed at the end of an import."""
        return f"{self.added} added, {self.already} already there, {len(self.refused)} refused"


def read_subscriptions(data: bytes) -> list[Listed]:
    """Return the subscriptions an OPML file or a YouTube subscriptions.csv names.

    Raises:
        TubepollerError: the file is neither, or names nothing.
    """
    text = data.lstrip(b"\xef\xbb\xbf").lstrip()
    listed = _from_csv(text) if not text.startswith(b"<") else _from_opml(text)
    if not listed:
        raise TubepollerError("the file names no subscription (OPML or YouTube CSV expected)")
    if len(listed) > MAX_ENTRIES:
        raise TubepollerError(f"the file names {len(listed)} subscriptions; {MAX_ENTRIES} at most")
    return listed


def _from_opml(data: bytes) -> list[Listed]:
    parsed = listparser.parse(data)
    if parsed.bozo and not parsed.feeds:
        raise TubepollerError(f"not a readable OPML file: {parsed.bozo_exception}")
    return [Listed(feed.url.strip(), feed.title or "") for feed in parsed.feeds if feed.url]


def _from_csv(data: bytes) -> list[Listed]:
    """Read YouTube's takeout `subscriptions.csv` (Channel Id, Channel Url, Channel Title)."""
    try:
        rows = list(csv.DictReader(io.StringIO(data.decode("utf-8"))))
    except (UnicodeDecodeError, csv.Error) as exc:
        raise TubepollerError(f"not a readable CSV file: {exc}") from None
    listed = []
    for row in rows:
        row = {(k or "").strip().lower(): (v or "").strip() for k, v in row.items()}
        url = row.get("channel url") or (
            f"https://www.youtube.com/channel/{row['channel id']}" if row.get("channel id") else ""
        )
        if url:
            listed.append(Listed(url, row.get("channel title", "")))
    return listed


def import_subscriptions(
    user: User,
    listed: Iterable[Listed],
    now: float,
    settings: Settings,
    *,
    mode: str = FUTURE_ONLY,
    progress: Callable[[Imported], None] | None = None,
) -> Imported:
    """Subscribe `user` to each listed channel; return what was added and refused."""
    done = Imported()
    entries = list(listed)
    for start in range(0, len(entries), CHUNK):
        chunk = entries[start : start + CHUNK]
        # Resolved before the transaction: a handle's page is read with no lock held.
        specs: dict[str, sources.ChannelSpec] = {}
        refused = len(done.refused)
        for entry in chunk:
            try:
                spec = sources.resolve(entry.url, settings)
            except UnusableURL as exc:
                done.refused.append((entry.url, str(exc)))
            else:
                specs.setdefault(spec.feed_url, spec)
        created = subscribe_many(user, list(specs.values()), mode, now, settings)
        done.added += len(created)
        refused = len(done.refused) - refused
        done.already += len(chunk) - refused - len(created)
        if progress is not None:
            progress(done)
    return done


def export_opml(user: User | None) -> str:
    """Return an OPML document of the user's channels (every channel when None)."""
    query = Channel.select(Channel.feed_url, Channel.title).order_by(Channel.id)
    if user is not None:
        query = query.join(Subscription).where(Subscription.user == user)
    else:
        query = query.where(Channel.next_poll_at.is_null(False))
    outlines = "".join(
        f'\n    <outline type="rss" text={quoteattr(c.title or c.feed_url)} '
        f"xmlUrl={quoteattr(c.feed_url)}/>"
        for c in query
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<opml version="2.0">\n'
        "  <head><title>tubepoller subscriptions</title></head>\n"
        f'  <body>\n  <outline text="tubepoller">{outlines}\n  </outline>\n  </body>\n</opml>\n'
    )
