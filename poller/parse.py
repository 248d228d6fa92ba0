"""Turn a feed body into entries, with feedparser, only when something is new."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import feedparser

from .dates import struct_epoch
from .errors import PermanentError
from .ids import YOUTUBE_NS, external_id

MAX_TITLE = 500
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
    # Set when the body is not well-formed and the entries are what feedparser
    # recovered: the channel shows it, so an operator sees a feed going bad.
    warning: str | None = None


def clean_text(value: str, limit: int = MAX_TITLE) -> str:
    """Return `value` without control characters, on one line, at most `limit` chars."""
    return _SPACE.sub(" ", _CONTROL.sub("", value)).strip()[:limit]


def entry_id(entry: Any, video_keys: tuple[str, ...] = ("yt_videoid",)) -> str:
    """Return the stable id of a feedparser entry ('' when it has none).

    Matches `scan.scan_ids`: YouTube's videoId, else Atom id / RSS guid,
    else the link, else the first enclosure; cleaned and, when long, hashed
    (`ids.external_id`).

    Args:
        entry: one of feedparser's entries.
        video_keys: the keys feedparser files YouTube's videoId under; they
            follow the document's prefix for the namespace (`_video_keys`).
    """
    enclosures = entry.get("enclosures") or [{}]
    value = (
        next((entry[key] for key in video_keys if entry.get(key)), None)
        or entry.get("id")
        or entry.get("link")
        or enclosures[0].get("href")
        or ""
    )
    return external_id(value)


def _video_keys(namespaces: dict[str, str]) -> tuple[str, ...]:
    # feedparser names an unknown namespace's elements by the document's own
    # prefix: `<y:videoId xmlns:y="…/2015">` is `y_videoid`. Without a binding
    # (the loose parser of a broken feed reports none) the usual `yt` prefix.
    prefixes = [prefix for prefix, uri in namespaces.items() if uri == YOUTUBE_NS]
    return tuple(f"{p}_videoid" if p else "videoid" for p in prefixes) or ("yt_videoid",)


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
    video_keys = _video_keys(parsed.get("namespaces") or {})
    for raw in parsed.entries:
        key = entry_id(raw, video_keys)
        if not key:
            continue
        enclosures = raw.get("enclosures") or [{}]
        entries.append(
            Entry(
                external_id=key,
                title=clean_text(raw.get("title") or ""),
                url=_CONTROL.sub("", enclosures[0].get("href") or raw.get("link") or "").strip()[
                    :2048
                ],
                published_at=struct_epoch(raw.get("published_parsed") or raw.get("updated_parsed")),
            )
        )
    if parsed.bozo and parsed.entries and not entries:
        # Broken XML that yielded entries without ids: nothing we can track.
        reason = clean_text(str(parsed.get("bozo_exception") or "ill-formed"), 200)
        raise PermanentError(f"not a feed: ill-formed and no entry has an id ({reason})")
    warning = None
    if parsed.bozo and entries:
        reason = clean_text(str(parsed.get("bozo_exception") or "ill-formed"), 200)
        warning = f"the feed is not well-formed XML ({reason}); showing the entries recovered"
    return ParsedFeed(
        title=clean_text(parsed.feed.get("title") or ""), entries=entries, warning=warning
    )
