"""List a channel's whole catalog with yt-dlp, run in a killable subprocess.

yt-dlp has no total timeout of its own (``--socket-timeout`` bounds one read, not a slow-drip or
a looping extractor), so it runs as ``python -m yt_dlp`` in its own process group that we kill
when our deadline passes. `run_ytdlp` is shared with `poller.download`.
"""

from __future__ import annotations

import ctypes
import json
import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .dates import sane_epoch
from .errors import PermanentError, TransientError
from .ids import external_id

# Never read the user's or the system's yt-dlp config: a stray `-o` or `--download-archive`
# there would change what we get. No colour, no progress bars: stderr is parsed.
BASE_ARGS = (
    "--ignore-config", "--no-warnings", "--no-progress", "--color", "never",
    "--socket-timeout", "30",
)  # fmt: skip

# Linux: yt-dlp gets SIGKILL when the worker that started it dies. It runs in a session of its
# own (so killpg takes its ffmpeg too), which a SIGKILL of the worker's group does not reach:
# without this it would go on writing the file beside the retry that replaces it.
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


# Error texts after which retrying the same URL cannot help.
PERMANENT_MARKERS = ("HTTP Error 404", "HTTP Error 410", "Unsupported URL", "is not a valid URL")

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


def run_ytdlp(args: list[str], *, timeout: float) -> str:
    """Run ``yt-dlp BASE_ARGS args`` and return its stdout.

    Args:
        args: options and, last, the URL (callers put ``--`` before it).
        timeout: seconds before the whole process group is killed.

    Raises:
        TransientError: timeout, or a failure a retry may fix.
        PermanentError: yt-dlp said the URL is gone, unsupported or malformed.
    """
    cmd = [sys.executable, "-m", "yt_dlp", *BASE_ARGS, *args]
    # A new session makes yt-dlp the leader of its own process group, so killpg also takes
    # the ffmpeg it may have started.
    # UTF-8 both ways whatever the locale: titles and paths are not ASCII.
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        encoding="utf-8", errors="replace", env={**os.environ, "PYTHONUTF8": "1"},
        start_new_session=True, preexec_fn=_die_with_parent,
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TransientError(f"yt-dlp timed out after {timeout:g} s") from None
    finally:
        # Also reached when an exception (Dramatiq's TimeLimit, KeyboardInterrupt) interrupts
        # communicate(): never leave yt-dlp running behind us.
        if proc.poll() is None:
            _kill_group(proc)
    if proc.returncode != 0:
        raise _error_from(err, proc.returncode)
    return out


def _kill_group(proc: subprocess.Popen[str]) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended between poll() and killpg()
    proc.communicate()  # reap it and close the pipes


def _error_from(stderr: str, code: int) -> TransientError | PermanentError:
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("ERROR:")]
    if errors:
        message = "yt-dlp: " + errors[-1].removeprefix("ERROR:").strip()
    elif lines:
        message = f"yt-dlp exited with {code}: {lines[-1]}"
    else:
        message = f"yt-dlp exited with {code}"
    if len(message) > 300:
        message = message[:299] + "…"
    # Exit code 2 is yt-dlp's usage error: our own command line is wrong.
    if code == 2 or any(marker in message for marker in PERMANENT_MARKERS):
        return PermanentError(message)
    return TransientError(message)


def list_catalog(
    url: str, *, timeout: float = 120.0, video_url_base: str = "https://www.youtube.com"
) -> list[CatalogEntry]:
    """List every video yt-dlp finds at ``url``, without resolving each one.

    Args:
        url: a channel, playlist, feed or single-video URL.
        timeout: seconds before yt-dlp is killed.
        video_url_base: where a bare YouTube id's watch URL points.

    Raises:
        TransientError: timeout, network failure, or yt-dlp failing in a retryable way.
        PermanentError: the URL is gone or unsupported, or yt-dlp printed no JSON.
    """
    # "--" so that a URL starting with "-" is never read as an option.
    out = run_ytdlp(["--flat-playlist", "--dump-single-json", "--", url], timeout=timeout)
    try:
        info = json.loads(out)
    except json.JSONDecodeError:
        raise PermanentError(f"yt-dlp printed no JSON for {url}") from None
    if not isinstance(info, dict):
        raise PermanentError(f"yt-dlp printed no result for {url}")
    return catalog_entries(info, video_url_base=video_url_base)


def catalog_entries(
    info: dict[str, Any], *, video_url_base: str = "https://www.youtube.com"
) -> list[CatalogEntry]:
    """Turn yt-dlp's JSON into entries: flattened, deduplicated, id-less ones skipped."""
    items = _walk(info["entries"]) if "entries" in info else iter([info])
    seen: set[str] = set()
    result = []
    for entry in items:
        external_id = video_id_from(entry)
        if external_id is None or external_id in seen:
            continue  # a video can show up in two tabs (Videos and Live)
        seen.add(external_id)
        url = _entry_url(entry)
        if not url and _YT_ID.fullmatch(external_id):
            url = f"{video_url_base.rstrip('/')}/watch?v={external_id}"
        result.append(
            CatalogEntry(external_id, entry.get("title") or "", url or "", _published_at(entry))
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
