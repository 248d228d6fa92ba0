"""Run yt-dlp in a killable subprocess, and download one video with it.

yt-dlp has no total timeout of its own (``--socket-timeout`` bounds one read, not a slow-drip or
a looping extractor), so it runs as ``python -m yt_dlp`` in its own process group that we kill
when our deadline passes. `poller.catalog` lists catalogs through `run`.
"""

from __future__ import annotations

import ctypes
import os
import re
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

from .errors import PermanentError, TransientError

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


def run(args: list[str], *, timeout: float) -> str:
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


# What yt-dlp leaves behind when it is killed: partial files, fragment state, and the
# intermediate files of a merge or remux. None of them is ever a finished download.
_LEFTOVERS = ("{stem}.*.part", "{stem}.part", "{stem}.*.part-Frag*", "{stem}.*.ytdl",
              "{stem}.temp.*")  # fmt: skip
_MAX_PART = 150  # leaves room for ".f299.mp4.part" within a 255-byte file name


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


def download(
    url: str, dest_dir: Path, *, name: str, timeout: float, extra_args: Sequence[str] = ()
) -> str:
    """Download the video at ``url`` to ``dest_dir/name.EXT``; return its absolute path.

    A retry whose file is already complete succeeds without downloading again: yt-dlp
    (``--no-overwrites``) sees the file, skips the download and still prints its path.

    Args:
        url: the video's page or a direct media link.
        dest_dir: the media directory.
        name: the file's stem, may hold ``/``; sanitised again here.
        timeout: seconds before yt-dlp and its children are killed.
        extra_args: more yt-dlp options (the host's sleep options, `host_turn.turn`).

    Raises:
        TransientError: timeout, network failure, or a retryable yt-dlp failure.
        PermanentError: the video is gone or unsupported, or no file came out.
    """
    stem = safe_name(name)
    home = dest_dir.resolve()
    target = home / stem
    target.parent.mkdir(parents=True, exist_ok=True)
    _remove_leftovers(target)
    out = run(
        [
            *extra_args,
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
    return str(path)


def _remove_leftovers(target: Path) -> None:
    # A killed download leaves only .part files, never a final-looking one; start it afresh
    # rather than resume bytes written by a process we killed mid-write.
    for pattern in _LEFTOVERS:
        for leftover in target.parent.glob(pattern.format(stem=target.name)):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass  # another attempt removed it first
