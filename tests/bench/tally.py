"""CPU per poll by part: thread CPU time around each stage, in the worker processes.

py-spy samples what runs, and on a busy machine a thread that waits for a core
looks like one that runs; this counts CPU seconds instead (`time.thread_time`
around each part, exclusive of the parts it calls). Workers import it beside
the actors; it does nothing unless TUBEPOLLER_BENCH_TALLY_DIR is set, and then
writes each process's totals to ``DIR/PID.json`` four times a second
(`peers.read_tally` sums them; the bench process never imports this).
"""

from __future__ import annotations

import functools
import json
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

DIR = os.environ.get("TUBEPOLLER_BENCH_TALLY_DIR", "")

_totals: dict[str, float] = {}
_lock = threading.Lock()
_local = threading.local()


def _wrap(name: str, fn: Callable) -> Callable:
    @functools.wraps(fn)
    def timed(*args: Any, **kwargs: Any) -> Any:
        stack = _local.__dict__.setdefault("stack", [])
        stack.append(0.0)  # CPU of the tallied parts this one calls
        started = time.thread_time()
        try:
            return fn(*args, **kwargs)
        finally:
            spent = time.thread_time() - started
            inner = stack.pop()
            if stack:
                stack[-1] += spent
            with _lock:
                _totals[name] = _totals.get(name, 0.0) + spent - inner

    return timed


def _patch(owner: Any, attribute: str, name: str) -> None:
    setattr(owner, attribute, _wrap(name, getattr(owner, attribute)))


def install() -> None:
    """Wrap the poll's parts, the actors' and Dramatiq's own; start writing totals."""
    from dramatiq.worker import WorkerThread

    from poller import actors, metrics, pipeline, poll_history, reads, store

    _patch(WorkerThread, "process_message", "dramatiq: worker thread, besides the actor")
    actors.poll_channel.fn = _wrap("poll: the rest (decide, state, actor)", actors.poll_channel.fn)
    actors.tick.fn = _wrap("tick", actors.tick.fn)
    for owner, attribute, name in (
        (pipeline, "fetch", "fetch (httpcore)"),
        (pipeline, "scan_ids", "scan"),
        (pipeline, "parse_feed", "parse (feedparser)"),
        (reads, "load", "sql: load"),
        (reads, "known_ids", "sql: known ids"),
        (store, "finish_unchanged", "sql: finish unchanged"),
        (store, "save_new", "sql: save new videos"),
        (poll_history, "record_poll", "sql: poll history"),
        (actors, "log_poll", "log: one INFO line"),
        (metrics, "poll_done", "metrics"),
    ):
        _patch(owner, attribute, name)
    hooks = ("before_process_message", "after_process_message", "after_skip_message")
    for middleware in actors.broker.middleware:
        for hook in hooks:
            if hook in type(middleware).__dict__:
                _patch(middleware, hook, f"middleware: {type(middleware).__name__}")
    threading.Thread(target=_write, daemon=True).start()


def _write() -> None:
    path = Path(DIR) / f"{os.getpid()}.json"
    while True:
        with _lock:
            text = json.dumps(_totals)
        path.with_suffix(".tmp").write_text(text)
        path.with_suffix(".tmp").replace(path)
        time.sleep(0.25)


if DIR:
    install()
