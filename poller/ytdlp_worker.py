"""A long-lived yt-dlp: ``python -m poller.ytdlp_worker PARENT_PID``, fed by `ytdlp_pool`.

It imports yt_dlp once, then serves jobs, one JSON line each on stdin: ``{"argv": [...]}``,
the command line ``python -m yt_dlp`` would get (options, ``--``, the URL). Each answer is
one JSON line on stdout: ``{"code": N, "out": "...", "err": "..."}``, what that command would
have exited with, printed on stdout (``-J``'s JSON) and on stderr (its ERROR and WARNING
lines), so that `ytdlp.outcome` reads both paths alike. It exits at the end of stdin and
when its parent process is gone.
"""

from __future__ import annotations

import contextlib
import io
import json
import optparse
import os
import sys
import threading
import time
from collections import OrderedDict
from typing import IO, Any

# Imported once, when the worker starts: the cost a `python -m yt_dlp` pays on every run.
import yt_dlp
from yt_dlp.cookies import CookieLoadError
from yt_dlp.globals import IN_CLI, plugin_dirs
from yt_dlp.plugins import load_all_plugins
from yt_dlp.utils import DownloadError, SameFileError, UnsafeExecExpansionError

_plugins: dict[str, list[str]] = {}  # "dirs": the yt-dlp `plugin_dirs` loaded, once set

# How often the worker checks that the process that started it still lives.
PARENT_CHECK_S = 0.5


class _Switch:
    """A text stream that writes into the current job's buffer."""

    def __init__(self) -> None:
        self.to: IO[str] = io.StringIO()

    def write(self, text: str) -> int:
        return self.to.write(text)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False


class _Capture:
    """The YoutubeDL ``logger``: its errors and warnings, as the CLI writes them on stderr."""

    def __init__(self, err: _Switch) -> None:
        self.err = err

    def debug(self, message: str) -> None:
        pass  # progress and "[extractor] …" lines: the CLI is quiet under -J

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.err.write(f"WARNING: {message}\n")

    def error(self, message: str) -> None:
        self.err.write(f"{message}\n")  # yt-dlp prefixes its own "ERROR:"


class _Downloader:
    """A YoutubeDL and the streams it writes to, pointed at each job's buffers in turn."""

    def __init__(self, ydl_opts: dict[str, Any]) -> None:
        self.out, self.err = _Switch(), _Switch()
        # YoutubeDL binds sys.stdout when it is made: -J's JSON goes to `out`.
        with contextlib.redirect_stdout(self.out):  # type: ignore[type-var]
            self.ydl = yt_dlp.YoutubeDL({**ydl_opts, "logger": _Capture(self.err)})

    def download(self, urls: list[str], out: IO[str], err: IO[str]) -> int:
        self.out.to, self.err.to = out, err
        # What one run of the CLI starts from; the rest is what a run of the CLI over
        # several URLs shares between them (extractors, their caches, connections).
        self.ydl._download_retcode = 0
        self.ydl._num_downloads = 0
        self.ydl._printed_messages.clear()
        code: int = self.ydl.download(urls)
        return code

    def close(self) -> None:
        self.ydl.close()


# Making a YoutubeDL costs more CPU than listing a feed (its ~1,800 extractors sorted, an
# SSL context loaded): jobs of the same options reuse one, as the CLI given several URLs.
_REUSED = 4
_downloaders: OrderedDict[tuple[str, ...], _Downloader] = OrderedDict()


def _reuse_key(argv: list[str], ydl_opts: dict[str, Any]) -> tuple[str, ...] | None:
    # A cookies file is read when a YoutubeDL is made and written when it closes: a job
    # that uses one gets a YoutubeDL of its own, as each CLI run did.
    if "--" not in argv or ydl_opts.get("cookiefile") or ydl_opts.get("cookiesfrombrowser"):
        return None
    return tuple(argv[: argv.index("--")])


def serve(argv: list[str]) -> dict[str, Any]:
    """Run one yt-dlp command line in this process; return its code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    # Whatever yt-dlp writes to sys.stderr itself (a traceback, a deprecation) joins its
    # logged errors.
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            parsed = yt_dlp.parse_options(argv)
            # As yt_dlp's main: the plugins of --plugin-dirs (PYTHONPATH's by default),
            # loaded once per set of directories.
            if _plugins.get("dirs") != parsed.options.plugin_dirs:
                plugin_dirs.value = parsed.options.plugin_dirs
                if plugin_dirs.value:
                    load_all_plugins()
                _plugins["dirs"] = list(parsed.options.plugin_dirs)
            code = _download(argv, parsed.ydl_opts, parsed.urls, out, err)
        except SystemExit as exc:  # optparse's usage error: it printed why
            code = exc.code if isinstance(exc.code, int) else 2
        except optparse.OptParseError as exc:
            err.write(f"\n{exc}\n")
            code = 2
        except (CookieLoadError, DownloadError, UnsafeExecExpansionError):
            code = 1  # already reported through the logger, as yt_dlp.main exits 1
        except SameFileError as exc:
            err.write(f"ERROR: {exc}\n")
            code = 1
        except Exception as exc:  # a bug in an extractor: the CLI would die with a traceback
            err.write(f"ERROR: {type(exc).__name__}: {exc}\n")
            code = 1
    return {"code": code, "out": out.getvalue(), "err": err.getvalue()}


def _download(
    argv: list[str], ydl_opts: dict[str, Any], urls: list[str], out: IO[str], err: IO[str]
) -> int:
    key = _reuse_key(argv, ydl_opts)
    downloader = _downloaders.pop(key, None) if key is not None else None
    if downloader is None:
        downloader = _Downloader(ydl_opts)
    code = 1
    try:
        code = downloader.download(urls, out, err)
    finally:
        # Only a clean run hands its YoutubeDL on; after a failure it starts afresh.
        if key is not None and code == 0:
            _downloaders[key] = downloader
            while len(_downloaders) > _REUSED:
                _downloaders.popitem(last=False)[1].close()
        else:
            downloader.close()
    return code


def _watch_parent(parent: int) -> None:
    # PR_SET_PDEATHSIG follows the thread that started us, and pool workers outlive the
    # thread that happened to start them: watch the parent process instead.
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_S)
    os._exit(1)


def main(args: list[str]) -> int:
    """Serve jobs from stdin until it closes."""
    parent = int(args[0]) if args else os.getppid()
    sys.argv = ["yt-dlp"]  # the program its usage errors name
    threading.Thread(target=_watch_parent, args=(parent,), daemon=True).start()
    # Answers go to a private copy of stdout; fd 1 becomes stderr, so that nothing yt-dlp or
    # a C library prints by itself can break a line of the protocol.
    answers = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    sys.stdout = sys.stderr
    IN_CLI.value = True  # as `python -m yt_dlp` runs: its deprecation notes on stderr

    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        answers.write(json.dumps(serve([str(a) for a in job["argv"]])) + "\n")
        answers.flush()
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
