"""Download a feed's direct media link through the guarded client, every hop checked.

yt-dlp follows redirects on its own, without the address guard: a public
enclosure URL could redirect it into the private network. So a feed's link is
fetched here first, with `fetch`'s client (an address check at connect time on
every hop, one total deadline). When the answer is audio or video it is
streamed to ``<stem>.<ext>.part`` and renamed at the end, so a killed download
never looks complete; when it is a page, its final URL (redirects already
followed and checked) is left to yt-dlp's extractors.
"""

from __future__ import annotations

import mimetypes
import os
import re
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

import httpcore

from ._deadline import deadline
from .errors import MediaDirError, PermanentError, TransientError
from .fetch import REDIRECTS, USER_AGENT, _headers, _network_errors, _pool, _prepare
from .ytdlp import ensure_parent

# Extensions a media link's path may carry, when its Content-Type says too little.
MEDIA_EXTENSIONS = frozenset(
    "mp3 m4a m4b aac ogg oga opus flac wav mp4 m4v mov webm mkv avi".split()
)
_CHUNK_TIMEOUT_S = 60.0  # one read; the whole download has the caller's deadline


@dataclass(frozen=True)
class Page:
    """The link is no media file: ``url`` is where its redirects ended."""

    url: str


def download(
    url: str,
    home: Path,
    *,
    stem: str,
    timeout: float,
    max_redirects: int,
    allow_private: bool,
) -> str | Page:
    """Fetch ``url``; save media to ``home/stem.EXT`` and return its path, or return a Page.

    A retry whose file is already there returns it without reading the body.

    Args:
        url: a feed entry's link or enclosure.
        home: the media directory, existing and resolved.
        stem: the file's name without extension, from `ytdlp.file_stem`.
        timeout: seconds for the whole download, redirects included.
        max_redirects: redirects followed before giving up.
        allow_private: allow loopback and private addresses.

    Raises:
        TransientError: network failure, timeout, 5xx, 408, 429.
        PermanentError: another 4xx, a redirect loop; BlockedAddress for a hop to a
            non-public address.
    """
    seen = {url}
    with deadline(time.monotonic() + timeout):
        for _ in range(max_redirects + 1):
            result = _get(url, home / stem, timeout, allow_private)
            if not isinstance(result, _Redirect):
                return result
            if result.url in seen:
                raise PermanentError(f"too many redirects: {url} loops back to {result.url}")
            url = result.url
            seen.add(url)
    raise PermanentError(f"too many redirects: more than {max_redirects} from {url}")


@dataclass(frozen=True)
class _Redirect:
    url: str


def _get(url: str, target: Path, timeout: float, allow_private: bool) -> str | Page | _Redirect:
    host, core_url, authority = _prepare(url)
    headers = [("Host", authority), ("User-Agent", USER_AGENT), ("Accept-Encoding", "identity")]
    with (
        _network_errors(host, timeout),
        _pool(allow_private).stream(
            "GET", core_url, headers=headers, extensions={"timeout": _timeouts()}
        ) as r,
    ):
        found = _headers(r.headers)
        if r.status in REDIRECTS:
            try:
                following = urllib.parse.urljoin(url, found.get("location", ""))
            except ValueError as exc:
                raise PermanentError(f"HTTP {r.status} from {host}: bad Location: {exc}") from None
            if following == url or not found.get("location"):
                raise PermanentError(f"HTTP {r.status} from {host} without a usable Location")
            _prepare(following)  # refuse file:, ftp: before following
            return _Redirect(urllib.parse.urldefrag(following).url)
        if r.status in (408, 429) or r.status >= 500:
            raise TransientError(f"HTTP {r.status} from {host}")
        if not 200 <= r.status < 300:
            raise PermanentError(f"HTTP Error {r.status} from {host}")
        ext = media_extension(found.get("content-type", ""), url)
        if ext is None:
            return Page(url)
        final = target.with_name(f"{target.name}.{ext}")
        if final.is_file() and final.stat().st_size > 0:
            return str(final)  # a retry after the rename: already complete
        ensure_parent(final)
        return _save(r, final)


def _save(response: httpcore.Response, final: Path) -> str:
    part = final.with_name(final.name + ".part")
    try:
        with part.open("wb") as out:
            for chunk in response.iter_stream():
                out.write(chunk)
    except OSError as exc:  # disk full, read-only: the media dir's problem, not the video's
        raise MediaDirError(f"media dir: cannot write {part}: {exc.strerror or exc}") from None
    if part.stat().st_size == 0:
        part.unlink()
        raise PermanentError(f"empty media file at {final.name}")
    os.replace(part, final)
    return str(final)


def media_extension(content_type: str, url: str) -> str | None:
    """Return the file extension of a media answer, or None when it is no media.

    Args:
        content_type: the response's Content-Type.
        url: the URL it came from (its path's extension helps an octet-stream).
    """
    kind = content_type.split(";", 1)[0].strip().lower()
    path_ext = PurePosixPath(urllib.parse.urlsplit(url).path).suffix.lstrip(".").lower()
    known = path_ext if path_ext in MEDIA_EXTENSIONS else None
    if kind.startswith(("audio/", "video/")):
        guessed = (mimetypes.guess_extension(kind) or "").lstrip(".")
        subtype = re.sub(r"[^a-z0-9]", "", kind.split("/", 1)[1])[:8] or "media"
        return known or (guessed if guessed in MEDIA_EXTENSIONS else None) or subtype
    if kind in ("application/octet-stream", "binary/octet-stream", ""):
        return known
    return None


def _timeouts() -> dict[str, float]:
    return {"connect": _CHUNK_TIMEOUT_S, "read": _CHUNK_TIMEOUT_S, "write": _CHUNK_TIMEOUT_S}
