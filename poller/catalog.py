"""Read a channel's whole catalog: one flat yt-dlp listing turned into entries."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from . import kinds, ytdlp_pool
from .config import DEFAULT_YTDLP_WORKERS
from .dates import sane_epoch
from .errors import PermanentError
from .ids import external_id
from .listing_meta import APPROXIMATE_DATE_ARGS, entry_meta
from .parse import clean_text

_YT_ID = re.compile(r"[A-Za-z0-9_-]{11}")
# The generic extractor appends the RSS <guid> to each entry's URL in this fragment.
_SMUGGLE = "#__youtubedl_smuggle="


@dataclass(frozen=True)
class CatalogEntry:
    """One video of a catalog, as yt-dlp listed it."""

    external_id: str
    title: str
    url: str
    published_at: float | None  # epoch seconds, when yt-dlp knew it
    media_type: str = kinds.VIDEO  # what the listing says it is (`listing_meta.entry_meta`)
    start_at: float | None = None  # an upcoming one's start, when the listing gives it


def list_catalog(
    url: str,
    *,
    timeout: float,
    video_url_base: str,
    extra_args: Sequence[str] = (),
    workers: int = DEFAULT_YTDLP_WORKERS,
) -> list[CatalogEntry]:
    """List every video yt-dlp finds at ``url``, without resolving each one.

    Args:
        url: a channel, playlist, feed or single-video URL.
        timeout: seconds before yt-dlp is killed.
        video_url_base: where a bare YouTube id's watch URL points.
        extra_args: more yt-dlp options (the host's sleep options, `host_turn.turn`).
        workers: size of this process's yt-dlp pool (`ytdlp_pool`); 0: a yt-dlp per run.

    Raises:
        TransientError: timeout, network failure, or yt-dlp failing in a retryable way.
        PermanentError: the URL is gone or unsupported, or yt-dlp printed no JSON.
    """
    # "--" so that a URL starting with "-" is never read as an option. --ignore-errors: one
    # entry that fails (a removed or members-only video in a lazily listed tab) leaves a null
    # in the listing instead of aborting it; the rest is kept (ytdlp.outcome's ok_partial).
    # APPROXIMATE_DATE_ARGS: a flat YouTube listing has no dates without it.
    out = ytdlp_pool.run(
        [
            *extra_args,
            *APPROXIMATE_DATE_ARGS,
            "--flat-playlist",
            "--dump-single-json",
            "--ignore-errors",
            "--",
            url,
        ],
        timeout=timeout,
        label=f"listing {url[:200]}",
        ok_partial=True,
        workers=workers,
    )
    try:
        info = json.loads(out)
    except json.JSONDecodeError:
        raise PermanentError(f"yt-dlp printed no JSON for {url}") from None
    if not isinstance(info, dict):
        raise PermanentError(f"yt-dlp printed no result for {url}")
    return catalog_entries(info, video_url_base=video_url_base)


def catalog_entries(info: dict[str, Any], *, video_url_base: str) -> list[CatalogEntry]:
    """Turn yt-dlp's JSON into entries: flattened, deduplicated, id-less ones skipped."""
    items = _walk(info["entries"]) if "entries" in info else iter([info])
    seen: set[str] = set()
    result = []
    for entry in items:
        video_id = video_id_from(entry)
        if video_id is None or video_id in seen:
            continue  # a video can show up in two tabs (Videos and Live)
        seen.add(video_id)
        url = _entry_url(entry)
        if not url and _YT_ID.fullmatch(video_id):
            url = f"{video_url_base.rstrip('/')}/watch?v={video_id}"
        # Titles are cleaned as the feed path cleans them: a NUL fails PostgreSQL.
        title = clean_text(str(entry.get("title") or ""))
        meta = entry_meta(entry)
        result.append(
            CatalogEntry(
                video_id,
                title,
                url or "",
                _published_at(entry),
                meta.media_type,
                meta.start_at if meta.media_type == kinds.UPCOMING else None,
            )
        )
    return result


def _walk(entries: Any) -> Iterator[dict[str, Any]]:
    # A YouTube channel URL without a tab gives a playlist of its tabs' playlists.
    for entry in entries or ():
        if not isinstance(entry, dict):
            continue  # yt-dlp puts None where an entry failed
        if "entries" in entry:
            yield from _walk(entry["entries"])
        elif entry.get("_type") in ("playlist", "multi_video"):
            continue  # an unexpanded playlist is no video
        elif str(entry.get("ie_key") or "").endswith(("Tab", "Playlist")):
            continue  # a link to another tab or playlist, not to a video
        else:
            yield entry


def video_id_from(entry: dict[str, Any]) -> str | None:
    """Return a stable id for one yt-dlp entry, or None when it has none.

    A YouTube entry's own id; else a YouTube id read from its URL; else the URL itself
    (cleaned and, past 256 characters, hashed by `ids.external_id`, as the feed path does),
    so that podcast episodes get a stable key too.
    """
    vid = entry.get("id")
    extractor = entry.get("ie_key") or entry.get("extractor_key") or entry.get("extractor") or ""
    if isinstance(vid, str) and vid and (extractor.lower() == "youtube" or _YT_ID.fullmatch(vid)):
        return external_id(vid) or None
    url = _entry_url(entry)
    if not url:
        return None
    return _youtube_id_in(url) or external_id(url) or None


def _entry_url(entry: dict[str, Any]) -> str | None:
    # A full (single-video) result's `url` is a media URL; its page is `webpage_url`.
    url = entry.get("webpage_url") or entry.get("url")
    if not isinstance(url, str) or not url.strip():
        return None
    # Drop the generic extractor's smuggled <guid>: the same link must give the same key.
    return url.strip().split(_SMUGGLE, 1)[0]


def _youtube_id_in(url: str) -> str | None:
    parts = urlsplit(url)
    path = parts.path.rstrip("/")
    candidates: list[str] = []
    if path.endswith("/watch"):
        candidates = parse_qs(parts.query).get("v", [])
    elif (parts.hostname or "").removeprefix("www.") == "youtu.be":
        candidates = [path.lstrip("/")]
    else:
        m = re.search(r"/(?:shorts|live|embed)/([^/]+)$", path)
        candidates = [m.group(1)] if m else []
    return next((c for c in candidates if _YT_ID.fullmatch(c)), None)


def _published_at(entry: dict[str, Any]) -> float | None:
    # A date outside the sane range (`dates.sane_epoch`) is no date: stored, a
    # year-10000 time would break every listing that formats it.
    ts = sane_epoch(entry.get("timestamp"))
    if ts is not None:
        return ts
    day = entry.get("upload_date")
    if isinstance(day, str) and re.fullmatch(r"\d{8}", day):
        try:
            return sane_epoch(datetime.strptime(day, "%Y%m%d").replace(tzinfo=UTC).timestamp())
        except ValueError:
            return None
    return None
