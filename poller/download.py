"""Download one video with yt-dlp into the media directory, in a killable subprocess."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from .catalog import run_ytdlp
from .errors import PermanentError

# What yt-dlp leaves behind when it is killed: partial files, fragment state, and the
# intermediate files of a merge or remux. None of them is ever a finished download.
_LEFTOVERS = ("{stem}.*.part", "{stem}.part", "{stem}.*.part-Frag*", "{stem}.*.ytdl",
              "{stem}.temp.*")  # fmt: skip
_MAX_PART = 150  # leaves room for ".f299.mp4.part" within a 255-byte file name


@dataclass(frozen=True)
class DownloadResult:
    """Where a finished download lies."""

    path: str  # absolute


def safe_name(name: str) -> str:
    """Return ``name`` with each path part reduced to ``[A-Za-z0-9._-]``.

    Also keeps yt-dlp's ``%`` templates and glob characters out of the name, and makes
    ``..`` or a leading dot impossible, so the file always lands under the media directory.

    Raises:
        ValueError: nothing usable is left.
    """
    parts = []
    for part in re.split(r"[/\\]+", name):
        part = re.sub(r"[^A-Za-z0-9._-]", "_", part).lstrip(".")[:_MAX_PART]
        if part:
            parts.append(part)
    if not parts:
        raise ValueError(f"unusable download name {name!r}")
    return "/".join(parts)


def download(url: str, dest_dir: Path, *, name: str, timeout: float = 1500.0) -> DownloadResult:
    """Download the video at ``url`` to ``dest_dir/name.EXT`` and return its path.

    A retry whose file is already complete succeeds without downloading again: yt-dlp
    (``--no-overwrites``) sees the file, skips the download and still prints its path.

    Args:
        url: the video's page or a direct media link.
        dest_dir: the media directory.
        name: the file's stem, may hold ``/``; sanitised again here.
        timeout: seconds before yt-dlp and its children are killed.

    Raises:
        TransientError: timeout, network failure, or a retryable yt-dlp failure.
        PermanentError: the video is gone or unsupported, or no file came out.
    """
    stem = safe_name(name)
    home = dest_dir.resolve()
    target = home / stem
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    out = run_ytdlp(
        [
            "--no-playlist",
            "--no-overwrites",
            "--paths", str(home),
            "--output", f"{stem}.%(ext)s",
            # Printed once the file has its final name, also when it was already there.
            "--print", "after_move:filepath",
            "--",
            url,
        ],
        timeout=timeout,
    )  # fmt: skip
    lines = [line.strip() for line in out.splitlines() if line.strip()]
    if not lines:
        raise PermanentError(f"yt-dlp downloaded nothing from {url}")
    path = Path(os.path.abspath(lines[-1]))
    try:
        size = path.stat().st_size
    except OSError:
        size = 0
    if size == 0:
        raise PermanentError(f"yt-dlp reported {path}, which is missing or empty")
    return DownloadResult(str(path))


def _remove_leftovers(target: Path) -> None:
    # A killed download leaves only .part files, never a final-looking one; start it afresh
    # rather than resume bytes written by a process we killed mid-write.
    for pattern in _LEFTOVERS:
        for leftover in target.parent.glob(pattern.format(stem=target.name)):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass  # another attempt removed it first
