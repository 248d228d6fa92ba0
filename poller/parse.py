"""Turn a feed body into entries, with feedparser, only when something is new."""

from __future__ import annotations

import calendar
import re
from dataclasses import dataclass
from typing import Any

import feedparser

from .errors import PermanentError

MAX_TITLE = 500
MAX_ID = 256
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u200b-\u200f\u2028\u2029\ufeff]")
_SPACE = re.compile(r"\s+")


@dataclass(frozen=True)
class Entry:
    """One upload as a feed or a catalog listing describes it."""

    external_id: str
    title: str
    url: str
    published_at: float | None


@dataclass(frozen=True)
class ParsedFeed:
    title: str
    entries: list[Entry]


def clean_text(value: str, limit: int = MAX_TITLE) -> str:
    """Return `value` without control characters, on one line, at most `limit` chars."""
    return _SPACE.sub(" ", _CONTROL.sub("", value)).strip()[:limit]


def entry_id(entry: Any) -> str:
    """Return the stable id of a feedparser entry ('' when it has none).

    Matches `scan.scan_ids`: YouTube's videoId, else Atom id / RSS guid,
    else the link, else the first enclosure.
    """
    enclosures = entry.get("enclosures") or [{}]
    value = (
        entry.get("yt_videoid")
        or entry.get("id")
        or entry.get("link")
        or enclosures[0].get("href")
        or ""
    )
    return value.strip()[:MAX_ID]


def parse_feed(body: bytes) -> ParsedFeed:
    """Parse a feed body into entries.

    Raises:
        PermanentError: the body is not a feed (HTML, empty, broken beyond repair).
    """
    if not body.strip():
        raise PermanentError("not a feed: the response body is empty")
    parsed = feedparser.parse(body, sanitize_html=False, resolve_relative_uris=False)
    if not parsed.entries and not parsed.get("version"):
        # feedparser reads almost anything; no version and no entries means
        # HTML, JSON or garbage rather than an empty feed.
        reason = clean_text(str(parsed.get("bozo_exception") or "no RSS or Atom root"), 200)
        raise PermanentError(f"not a feed: {reason}")
    entries = []
    for raw in parsed.entries:
        external_id = entry_id(raw)
        if not external_id:
            continue
        enclosures = raw.get("enclosures") or [{}]
        entries.append(
            Entry(
                external_id=external_id,
                title=clean_text(raw.get("title") or ""),
                url=(enclosures[0].get("href") or raw.get("link") or "").strip()[:2048],
                published_at=_epoch(raw.get("published_parsed") or raw.get("updated_parsed")),
            )
        )
    if parsed.bozo and parsed.entries and not entries:
        # Broken XML that yielded entries without ids: nothing we can track.
        reason = clean_text(str(parsed.get("bozo_exception") or "ill-formed"), 200)
        raise PermanentError(f"not a feed: ill-formed and no entry has an id ({reason})")
    return ParsedFeed(title=clean_text(parsed.feed.get("title") or ""), entries=entries)


def _epoch(value: Any) -> float | None:
    return float(calendar.timegm(value)) if value else None
