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


class _Capture:
    """The YoutubeDL ``logger``: its errors and warnings, as the CLI writes them on stderr."""

    def __init__(self, err: IO[str]) -> None:
        self.err = err

    def debug(self, message: str) -> None:
        pass  # progress and "[extractor] …" lines: the CLI is quiet under -J

    def info(self, message: str) -> None:
        pass

    def warning(self, message: str) -> None:
        self.err.write(f"WARNING: {message}\n")

    def error(self, message: str) -> None:
        self.err.write(f"{message}\n")  # yt-dlp prefixes its own "ERROR:"


def serve(argv: list[str]) -> dict[str, Any]:
    """Run one yt-dlp command line in this process; return its code, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    code = 0
    # YoutubeDL binds sys.stdout when it is made: -J's JSON lands in `out`. Whatever yt-dlp
    # writes to sys.stderr itself (a traceback, a deprecation) joins its logged errors.
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
            with yt_dlp.YoutubeDL({**parsed.ydl_opts, "logger": _Capture(err)}) as ydl:
                code = ydl.download(parsed.urls)
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
