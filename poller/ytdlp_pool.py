"""A few long-lived yt-dlp processes per worker process, so a listing starts no Python.

``python -m yt_dlp`` costs ~0.34 s of CPU before it does anything: most of a first catalog.
Each pool worker (`poller.ytdlp_worker`) imports yt_dlp once and serves jobs one at a time.
A job keeps the timeout of `ytdlp.run`: past it, that worker's process group is killed and a
fresh one takes its place, so a hung listing never wedges the thread that waits for it. The
answer goes through `ytdlp.outcome`, so errors and warnings read as on the subprocess path.

Workers start lazily, serve at most `MAX_JOBS` jobs (yt-dlp caches grow), and are replaced
when the environment they were started with changed (PYTHONPATH brings yt-dlp plugins).
"""

from __future__ import annotations

import json
import logging
import os
import select
import subprocess
import sys
import threading
import time
from collections.abc import Sequence

from . import ytdlp
from .errors import TransientError

log = logging.getLogger(__name__)

# Jobs one worker serves before it is replaced: bounds what yt-dlp keeps in memory.
MAX_JOBS = 200
_READ = 1 << 16


class _Worker:
    """One ``python -m poller.ytdlp_worker`` and the environment it was started with."""

    def __init__(self, key: tuple[object, ...]) -> None:
        self.key = key
        self.jobs = 0
        # Its own session, as on the subprocess path: killpg takes whatever it started.
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "poller.ytdlp_worker", str(os.getpid())],
            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=None,
            env={**os.environ, "PYTHONUTF8": "1"}, start_new_session=True,
        )  # fmt: skip

    def ask(self, argv: list[str], deadline: float) -> dict[str, object]:
        """Send one job; return its answer.

        Raises:
            TimeoutError: no answer before ``deadline`` (time.monotonic()).
            EOFError: the worker died before it answered.
        """
        assert self.proc.stdin is not None and self.proc.stdout is not None
        try:
            self.proc.stdin.write(json.dumps({"argv": argv}).encode() + b"\n")
            self.proc.stdin.flush()
        except BrokenPipeError:
            raise EOFError from None
        fd = self.proc.stdout.fileno()
        chunks: list[bytes] = []
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([fd], [], [], left)[0]:
                raise TimeoutError
            chunk = os.read(fd, _READ)
            if not chunk:
                raise EOFError
            chunks.append(chunk)
            if chunk.endswith(b"\n"):  # one answer per job, and nothing after it
                answer: dict[str, object] = json.loads(b"".join(chunks))
                return answer

    def kill(self) -> None:
        """Kill its process group and reap it."""
        ytdlp.kill_group(self.proc)


class Pool:
    """At most ``size`` yt-dlp workers, shared by the threads of one process."""

    def __init__(self, size: int, max_jobs: int = MAX_JOBS) -> None:
        self.size = size
        self.max_jobs = max_jobs
        self._idle: list[_Worker] = []
        self._live = 0  # idle + busy + being started
        self._free = threading.Condition()

    def run(self, args: Sequence[str], *, timeout: float, label: str, ok_partial: bool) -> str:
        """Run ``yt-dlp BASE_ARGS args`` on a worker; as `ytdlp.run`, and raising the same."""
        deadline = time.monotonic() + timeout
        argv = ytdlp.command_args(args)
        worker: _Worker | None = None
        done = False
        try:
            worker = self._take(deadline, timeout)
            answer = worker.ask(argv, deadline)
            done = True
        except TimeoutError:
            raise TransientError(f"yt-dlp timed out after {timeout:g} s") from None
        except EOFError:
            code = worker.proc.poll() if worker else None
            raise TransientError(f"yt-dlp worker died mid-job (exit {code})") from None
        except ValueError:  # an answer that is no JSON: that worker is not to be trusted
            raise TransientError("yt-dlp worker gave an unreadable answer") from None
        finally:
            # Also reached when Dramatiq's TimeLimit interrupts the wait: a worker whose
            # answer was not read is killed, never handed to the next job.
            if worker is not None:
                self._give_back(worker, keep=done)
        return ytdlp.outcome(
            str(answer["out"]),
            str(answer["err"]),
            int(str(answer["code"])),
            label=label,
            ok_partial=ok_partial,
        )

    def close(self) -> None:
        """Kill the idle workers (busy ones are killed when their job ends)."""
        with self._free:
            idle, self._idle = self._idle, []
            self._live -= len(idle)
        for worker in idle:
            worker.kill()

    def _take(self, deadline: float, timeout: float) -> _Worker:
        key = _environment()
        stale: list[_Worker] = []
        with self._free:
            while True:
                while self._idle:
                    worker = self._idle.pop()
                    if worker.key == key and worker.proc.poll() is None:
                        break
                    stale.append(worker)  # dead, or started under other plugins
                    self._live -= 1
                else:
                    worker = None
                if worker is not None or self._live < self.size:
                    break
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TransientError(f"no yt-dlp worker was free within {timeout:g} s")
                self._free.wait(left)
            if worker is None:
                self._live += 1
        for old in stale:
            old.kill()
        if worker is not None:
            return worker
        try:
            return _Worker(key)
        except BaseException:
            self._forget()
            raise

    def _give_back(self, worker: _Worker, *, keep: bool) -> None:
        worker.jobs += 1
        if keep and worker.jobs < self.max_jobs and worker.proc.poll() is None:
            with self._free:
                self._idle.append(worker)
                self._free.notify()
            return
        worker.kill()
        self._forget()

    def _forget(self) -> None:
        with self._free:
            self._live -= 1
            self._free.notify()


def _environment() -> tuple[object, ...]:
    # What a worker inherited and a job may depend on: the plugins on PYTHONPATH, the
    # proxy variables, relative paths (a cookies file).
    return (tuple(sorted(os.environ.items())), os.getcwd())


_pools: dict[int, Pool] = {}
_pools_pid = 0
_pools_lock = threading.Lock()


def pool(size: int) -> Pool:
    """Return this process's pool of ``size`` workers (made on first use)."""
    global _pools_pid
    with _pools_lock:
        if _pools_pid != os.getpid():
            # A forked child shares its parent's pipes, never its workers: start afresh.
            _pools.clear()
            _pools_pid = os.getpid()
        found = _pools.get(size)
        if found is None:
            found = _pools[size] = Pool(size)
        return found


def run(
    args: Sequence[str], *, timeout: float, workers: int, label: str = "", ok_partial: bool = False
) -> str:
    """Run a yt-dlp that prints JSON (a listing, metadata) on the pool, as `ytdlp.run` does.

    Args:
        args: options and, last, the URL (after ``--``).
        timeout: seconds for the whole job, a wait for a free worker included.
        workers: the pool's size (TUBEPOLLER_YTDLP_WORKERS); 0: one ``python -m yt_dlp``
            per run (`ytdlp.run`).
        label: what the run is for in the log.
        ok_partial: as in `ytdlp.run`.

    Raises:
        TransientError: timeout, a worker that died, or a failure a retry may fix.
        PermanentError: yt-dlp said the URL is gone, unsupported or malformed.
    """
    if workers <= 0:
        return ytdlp.run(list(args), timeout=timeout, label=label, ok_partial=ok_partial)
    return pool(workers).run(args, timeout=timeout, label=label, ok_partial=ok_partial)
