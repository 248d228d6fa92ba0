"""Run yt-dlp in a killable subprocess, and download one video with it.

yt-dlp has no total timeout of its own (``--socket-timeout`` bounds one read, not a slow-drip or
a looping extractor), so it runs as ``python -m yt_dlp`` in its own process group that we kill
when our deadline passes. `poller.catalog` lists catalogs through `run`.
"""

from __future__ import annotations

import ctypes
import hashlib
import logging
import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from .errors import (
    MediaDirError,
    NotYetAvailable,
    PermanentError,
    PollError,
    TransientError,
    Unavailable,
)

log = logging.getLogger(__name__)

# Never read the user's or the system's yt-dlp config: a stray `-o` or `--download-archive`
# there would change what we get. No colour, no progress bars: stderr is parsed.
# Warnings stay on: they are logged (see `run`), never treated as errors.
BASE_ARGS = (
    "--ignore-config", "--no-progress", "--color", "never", "--socket-timeout", "30",
    # yt-dlp[default] brings requests, which yt-dlp then prefers; through it a direct link
    # whose server stalls left yt-dlp stuck before it wrote a byte (tests/test_ytdlp.py).
    "--compat-options", "prefer-legacy-http-handler",
)  # fmt: skip


def js_runtime_args() -> list[str]:
    """Point yt-dlp at the deno installed beside this Python (the `deno` PyPI package).

    YouTube extraction needs a JavaScript runtime. The venv's bin is not always on PATH
    (a systemd unit, cron), so the path is passed explicitly; without a deno there,
    yt-dlp's own default (a deno on PATH) stays.
    """
    deno = Path(sys.executable).with_name("deno")
    if not deno.is_file():
        found = shutil.which("deno")
        deno = Path(found) if found else deno
    return ["--js-runtimes", f"deno:{deno}"] if deno.is_file() else []


# Linux: yt-dlp gets SIGKILL when the worker that started it dies. It runs in a process group of
# its own (so killpg takes its ffmpeg too), which a SIGKILL of the worker's group does not reach:
# without this it would go on writing the file beside the retry that replaces it.
_PR_SET_PDEATHSIG = 1
_LIBC = ctypes.CDLL(None, use_errno=True) if sys.platform.startswith("linux") else None


def _die_with_parent() -> None:
    if _LIBC is not None:
        _LIBC.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)


def _child_setup(nice: int) -> Callable[[], None]:
    """Return what the child runs before yt-dlp: die with us, at `nice` CPU priority."""

    def setup() -> None:
        _die_with_parent()
        if nice:
            os.nice(nice)  # inherited by the ffmpeg it starts

    return setup


# Error texts after which retrying the same URL cannot help.
PERMANENT_MARKERS = ("HTTP Error 404", "HTTP Error 410", "Unsupported URL", "is not a valid URL")
# Texts (YouTube's, as yt-dlp prints them) of a video that exists but cannot be had here:
# the video ends `unavailable`, and it is no sign that the channel is broken.
UNAVAILABLE_MARKERS = (
    "Private video", "This video is private", "only available to Music Premium members",
    "Join this channel to get access to members-only content", "members-only content",
    "Video unavailable", "This video is unavailable", "This video has been removed",
    "Sign in to confirm your age", "not available in your country",
    "The uploader has not made this video available in your country",
    "This video is no longer available",
)  # fmt: skip
# "Premieres in 3 hours", "This live event will begin in 20 minutes" / "in a few moments".
_UPCOMING = re.compile(
    r"(?:Premieres|Premiere will begin|live event will begin) in "
    r"(?:(?P<n>\d{1,12}|an?|one) (?P<unit>second|minute|hour|day|week)s?|a few moments)",
    re.IGNORECASE,
)
_UNIT_S = {"second": 1, "minute": 60, "hour": 3600, "day": 86400, "week": 604800}
# Unparsed, an upcoming video is tried again after this long.
UPCOMING_RETRY_S = 3600.0
_MAX_UPCOMING_S = 366 * 86400.0


def run(
    args: list[str], *, timeout: float, label: str = "", ok_partial: bool = False, nice: int = 0
) -> str:
    """Run ``yt-dlp BASE_ARGS args`` and return its stdout.

    yt-dlp's warnings are logged at WARNING with ``label``; they do not fail the run.

    Args:
        args: options and, last, the URL (callers put ``--`` before it).
        timeout: seconds before the whole process group is killed.
        label: what the run is for in the log, e.g. ``video=12``.
        ok_partial: return stdout despite exit code 1 when it holds a JSON object (a
            listing run with ``--ignore-errors`` exits 1 when one entry failed).
        nice: added to yt-dlp's CPU niceness, so a download's muxing and decoding
            yield the CPU to the polls of the same machine.

    Raises:
        TransientError: timeout, or a failure a retry may fix.
        PermanentError: yt-dlp said the URL is gone, unsupported or malformed.
    """
    cmd = [sys.executable, "-m", "yt_dlp", *command_args(args)]
    # A process group of its own, so killpg also takes the ffmpeg it may have started. Not a
    # session of its own: with autogroup scheduling (Linux's default on desktops and many
    # servers) each session is a CPU group of its own, weighed equally with the worker's,
    # and a niced yt-dlp there took its full share from the polls all the same.
    # UTF-8 both ways whatever the locale: titles and paths are not ASCII.
    proc = subprocess.Popen(
        cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        encoding="utf-8", errors="replace", env={**os.environ, "PYTHONUTF8": "1"},
        process_group=0, preexec_fn=_child_setup(nice),
    )  # fmt: skip
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        raise TransientError(f"yt-dlp timed out after {timeout:g} s") from None
    finally:
        # Also reached when an exception (Dramatiq's TimeLimit, KeyboardInterrupt) interrupts
        # communicate(): never leave yt-dlp running behind us.
        if proc.poll() is None:
            kill_group(proc)
    return outcome(out, err, proc.returncode, label=label, ok_partial=ok_partial)


def command_args(args: Sequence[str]) -> list[str]:
    """Return yt-dlp's whole command line after the program: `BASE_ARGS`, deno, ``args``."""
    return [*BASE_ARGS, *js_runtime_args(), *args]


def outcome(out: str, err: str, code: int, *, label: str, ok_partial: bool) -> str:
    """Return what a finished yt-dlp printed on stdout, or raise what its failure means.

    Shared by `run` and `ytdlp_pool`: the warnings are logged, the error classified
    (`_error_from`) and a partial listing kept the same way on both paths.

    Args:
        out: what it printed on stdout.
        err: what it printed on stderr.
        code: its exit code.
        label: what the run is for in the log.
        ok_partial: as in `run`.
    """
    _log_warnings(err, label)
    # yt-dlp --ignore-errors prints "null" when the URL itself failed: that is no listing.
    partial = ok_partial and code == 1 and out.lstrip().startswith("{")
    if code != 0 and not partial:
        raise _error_from(err, code)
    if code != 0:
        log.warning("yt-dlp %s: kept the partial output: %s", label, _error_from(err, 1))
    return out


def _log_warnings(stderr: str, label: str) -> None:
    for line in stderr.splitlines():
        if line.startswith("WARNING:"):
            log.warning("yt-dlp %s: %s", label, line.removeprefix("WARNING:").strip()[:500])


def kill_group(proc: subprocess.Popen[Any]) -> None:
    """Kill yt-dlp's whole process group (it leads its own) and reap it."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass  # it ended between poll() and killpg()
    proc.communicate()  # reap it and close the pipes


def _error_from(stderr: str, code: int, now: float | None = None) -> PollError:
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
    # "Video unavailable. This content isn't available, try again later." is YouTube
    # limiting this address, not the video gone: transient.
    if "try again later" not in message.lower() and any(
        marker.lower() in message.lower() for marker in UNAVAILABLE_MARKERS
    ):
        return Unavailable(message)
    if at := upcoming_at(message, time.time() if now is None else now):
        return NotYetAvailable(message, at)
    # Exit code 2 is yt-dlp's usage error: our own command line is wrong.
    if code == 2 or any(marker in message for marker in PERMANENT_MARKERS):
        return PermanentError(message)
    return TransientError(message)


def upcoming_at(message: str, now: float) -> float | None:
    """Return when an upcoming premiere or live event in ``message`` starts, or None.

    Args:
        message: yt-dlp's error, e.g. ``… Premieres in 3 hours``.
        now: the current epoch time.
    """
    m = _UPCOMING.search(message)
    if m is None:
        if re.search(r"Premieres in|live event will begin", message, re.I):
            return now + UPCOMING_RETRY_S
        return None
    if m.group("unit") is None:  # "in a few moments"
        return now + 60
    count = m.group("n").lower()
    n = 1 if count in ("a", "an", "one") else int(count)
    # Capped: a start years off (or a number of a thousand digits) is "much later", and a
    # year on the video is simply tried again.
    return now + min(n * _UNIT_S[m.group("unit").lower()], _MAX_UPCOMING_S)


# What yt-dlp leaves behind when it is killed: partial files, fragment state, and the
# intermediate files of a merge or remux. None of them is ever a finished download.
_LEFTOVERS = ("{stem}.*.part", "{stem}.part", "{stem}.*.part-Frag*", "{stem}.*.ytdl",
              "{stem}.temp.*")  # fmt: skip


# A video id used as it is in a file name: short, and only characters that mean nothing to a
# shell, to yt-dlp's output template (%) or to a glob. Any other id is hashed: a hashed name
# holds a "." that such an id never has, so the two kinds can never meet.
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")


def file_stem(channel_id: int, video_id: str) -> str:
    """Return a video's file name without extension: ``<channel id>/<one component>``.

    The component is the video id when it is a short token (every YouTube id is), else
    ``h.`` and the first 32 hex digits of the id's SHA-256. It is stable (only the id
    decides it) and injective: two distinct ids of a channel never share a file, however
    alike they look once non-ASCII letters are dropped, and a URL-shaped podcast GUID is one
    file, never nested folders.

    Args:
        channel_id: the channel's row id.
        video_id: the video's external id (a YouTube id, a feed GUID or link).
    """
    if _TOKEN.fullmatch(video_id) and not video_id.startswith("-"):
        return f"{channel_id}/{video_id}"
    digest = hashlib.sha256(video_id.encode("utf-8", "surrogatepass")).hexdigest()[:32]
    return f"{channel_id}/h.{digest}"


def _checked_stem(name: str) -> str:
    """Refuse a stem that could leave the media directory or steer yt-dlp's template."""
    parts = name.split("/")
    if not all(_TOKEN.fullmatch(p) or re.fullmatch(r"h\.[0-9a-f]{32}", p) for p in parts):
        raise ValueError(f"unusable download name {name!r}")
    return name


def download(
    url: str,
    dest_dir: Path,
    *,
    name: str,
    timeout: float,
    label: str = "",
    extra_args: Sequence[str] = (),
    nice: int = 0,
) -> str:
    """Download the video at ``url`` to ``dest_dir/name.EXT``; return its absolute path.

    A retry whose file is already complete succeeds without downloading again: yt-dlp
    (``--no-overwrites``) sees the file, skips the download and still prints its path.

    Args:
        url: the video's page or a direct media link.
        dest_dir: the media directory.
        name: the file's stem, from `file_stem`.
        timeout: seconds before yt-dlp and its children are killed.
        label: what the download is for in the log (``video=12``).
        extra_args: more yt-dlp options (the host's sleep options, `host_turn.turn`).
        nice: CPU niceness added to yt-dlp and its ffmpeg (TUBEPOLLER_DOWNLOAD_NICE).

    Raises:
        TransientError: timeout, network failure, or a retryable yt-dlp failure.
        PermanentError: the video is gone or unsupported, or no file came out.
        Unavailable: private, members-only, removed, age-gated or geo-blocked.
        NotYetAvailable: an upcoming premiere or live event.
        MediaDirError: the media directory cannot take the file.
    """
    stem = _checked_stem(name)
    home = prepare_dir(dest_dir)
    target = home / stem
    ensure_parent(target)
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
        label=label,
        nice=nice,
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


def prepare_dir(dest_dir: Path) -> Path:
    """Create the media directory if needed and return it resolved.

    Raises:
        MediaDirError: it is not a directory, or cannot be created or written.
    """
    try:
        home = dest_dir.resolve()
        if home.exists() and not home.is_dir():
            raise MediaDirError(f"media dir {dest_dir} is not a directory")
        home.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise MediaDirError(f"media dir {dest_dir}: {exc.strerror or exc}") from None
    if not os.access(home, os.W_OK | os.X_OK):
        raise MediaDirError(f"media dir {home} is not writable by this user")
    return home


def ensure_parent(target: Path) -> None:
    """Create the channel's folder of ``target`` in the media directory.

    Raises:
        MediaDirError: it cannot be created.
    """
    try:
        target.parent.mkdir(exist_ok=True)
    except OSError as exc:
        raise MediaDirError(f"cannot create {target.parent}: {exc.strerror or exc}") from None


def _remove_leftovers(target: Path) -> None:
    # A killed download leaves only .part files, never a final-looking one; start it afresh
    # rather than resume bytes written by a process we killed mid-write.
    for pattern in _LEFTOVERS:
        for leftover in target.parent.glob(pattern.format(stem=target.name)):
            try:
                leftover.unlink()
            except FileNotFoundError:
                pass  # another attempt removed it first
