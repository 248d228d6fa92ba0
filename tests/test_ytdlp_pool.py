"""The pool of long-lived yt-dlp workers: answers, timeouts, crashes, threads, plugins.

Real workers (``python -m poller.ytdlp_worker``) list feeds of the feed server on 127.0.0.1;
nothing here reaches any other host.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from poller import ytdlp, ytdlp_pool
from poller.errors import PermanentError, PollError, TransientError
from poller.ytdlp_pool import Pool
from tests.support.answers import HANG, Route
from tests.support.feedserver import FeedServer
from tests.support.ytdlp_status import use_status_pages

LISTING = ["--flat-playlist", "--dump-single-json", "--ignore-errors", "--"]


@pytest.fixture
def server(feeds: FeedServer) -> FeedServer:
    """The feed server, with one RSS feed of two items at /feed.xml."""
    items = "".join(
        f"<item><title>Ep {n}</title><link>{feeds.base}/watch?v=abcdefghij{n}</link></item>"
        for n in range(2)
    )
    body = (
        '<?xml version="1.0"?><rss version="2.0"><channel><title>Chan</title>'
        f"<link>http://127.0.0.1/</link><description>d</description>{items}</channel></rss>"
    )
    feeds.routes["/feed.xml"] = Route(body.encode(), "application/rss+xml")
    return feeds


@pytest.fixture(autouse=True)
def no_other_workers() -> Iterator[None]:
    """Close this process's pools (earlier tests' listings), so only a test's own run."""
    for each in ytdlp_pool._pools.values():
        each.close()
    yield
    for each in ytdlp_pool._pools.values():
        each.close()


@pytest.fixture
def pool() -> Iterator[Pool]:
    """A pool of one worker, killed after the test."""
    made = Pool(1)
    yield made
    made.close()


def workers() -> list[int]:
    """Return the pids of the pool workers this test process started."""
    needle = f"poller.ytdlp_worker\0{os.getpid()}\0".encode()
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if needle in (entry / "cmdline").read_bytes():
                    pids.append(int(entry.name))
            except OSError:
                continue  # it ended while we looked
    return pids


def titles(out: str) -> list[str]:
    return [entry["title"] for entry in json.loads(out)["entries"]]


def listing(pool: Pool, url: str, timeout: float = 60) -> str:
    return pool.run([*LISTING, url], timeout=timeout, label="test", ok_partial=True)


@pytest.mark.slow
def test_a_job_answers_with_the_json_yt_dlp_prints(server: FeedServer, pool: Pool) -> None:
    assert titles(listing(pool, server.url("/feed.xml"))) == ["Ep 0", "Ep 1"]
    [pid] = workers()
    assert titles(listing(pool, server.url("/feed.xml"))) == ["Ep 0", "Ep 1"]
    assert workers() == [pid]  # the same process served both


def outcome(run: Callable[[], str]) -> object:
    try:
        out = run()
    except PollError as exc:
        return (type(exc).__name__, str(exc).replace("__main__.py", "yt-dlp"))
    info = json.loads(out)
    info.pop("epoch", None)  # when it was listed
    return info


@pytest.mark.slow
def test_pool_and_subprocess_give_the_same_results_errors_and_warnings(
    server: FeedServer, pool: Pool, monkeypatch: pytest.MonkeyPatch, caplog
) -> None:
    use_status_pages(monkeypatch)
    listed = "v1\nERROR Join this channel to get access to members-only content\nv3\n"
    server.routes["/statuslist/chan"] = Route(listed.encode(), "text/plain")
    jobs = [
        [*LISTING, server.url("/feed.xml")],
        [*LISTING, server.url("/gone.xml")],  # 404: permanent
        [*LISTING, server.url("/statuslist/chan")],  # one entry failed: partial kept
        ["--flat-playlist", "--dump-single-json", "--", server.url("/status/x")],
        ["--no-such-option", "--", server.url("/feed.xml")],  # usage error: permanent
        [*LISTING, server.url("/feed.xml")],  # again: a reused YoutubeDL says it all again
        [*LISTING, server.url("/feed.xml")],
    ]
    for args in jobs:
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            by_pool = outcome(lambda: pool.run(args, timeout=60, label="x", ok_partial=True))  # noqa: B023
        pool_log = [r.getMessage() for r in caplog.records]
        caplog.clear()
        with caplog.at_level(logging.WARNING):
            by_run = outcome(lambda: ytdlp.run(args, timeout=60, label="x", ok_partial=True))  # noqa: B023
        assert by_pool == by_run, args
        assert pool_log == [r.getMessage() for r in caplog.records], args
    assert outcome(lambda: listing(pool, server.url("/gone.xml")))[0] == "PermanentError"


@pytest.mark.slow
def test_a_timeout_kills_the_worker_and_the_next_job_gets_a_fresh_one(
    server: FeedServer, pool: Pool
) -> None:
    listing(pool, server.url("/feed.xml"))
    [first] = workers()
    server.routes["/silent.xml"] = HANG
    started = time.monotonic()
    with pytest.raises(TransientError, match="timed out after 3 s"):
        listing(pool, server.url("/silent.xml"), timeout=3)
    assert time.monotonic() - started < 5
    assert workers() == []  # killed, its process group with it
    assert titles(listing(pool, server.url("/feed.xml"))) == ["Ep 0", "Ep 1"]
    [second] = workers()
    assert second != first


@pytest.mark.slow
def test_a_worker_that_dies_mid_job_is_a_transient_error_and_is_replaced(
    server: FeedServer, pool: Pool
) -> None:
    listing(pool, server.url("/feed.xml"))
    [victim] = workers()
    server.routes["/silent.xml"] = HANG
    threading.Timer(1.0, os.kill, (victim, signal.SIGKILL)).start()
    with pytest.raises(TransientError, match="died mid-job"):
        listing(pool, server.url("/silent.xml"), timeout=30)
    assert titles(listing(pool, server.url("/feed.xml"))) == ["Ep 0", "Ep 1"]
    assert victim not in workers()


@pytest.mark.slow
def test_threads_share_the_pool_and_never_start_more_workers_than_its_size(
    server: FeedServer,
) -> None:
    shared = Pool(2)
    seen: set[int] = set()

    def job(_: int) -> list[str]:
        out = listing(shared, server.url("/feed.xml"))
        seen.update(workers())
        return titles(out)

    try:
        with ThreadPoolExecutor(6) as threads:
            results = list(threads.map(job, range(18)))
        assert results == [["Ep 0", "Ep 1"]] * 18
        assert 1 <= len(workers()) <= 2
        assert len(seen) <= 2  # no worker replaced, none beyond the size
    finally:
        shared.close()
    assert workers() == []


@pytest.mark.slow
def test_a_worker_is_replaced_after_its_jobs_and_when_the_environment_changed(
    server: FeedServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    small = Pool(1, max_jobs=2)
    try:
        listing(small, server.url("/feed.xml"))
        [first] = workers()
        listing(small, server.url("/feed.xml"))
        listing(small, server.url("/feed.xml"))
        [second] = workers()
        assert second != first  # recycled after 2 jobs
        # A plugin directory on PYTHONPATH must reach the worker that lists with it.
        use_status_pages(monkeypatch)
        server.routes["/statuslist/chan"] = Route(b"v1\nv2\n", "text/plain")
        out = listing(small, server.url("/statuslist/chan"))
        assert [e["url"] for e in json.loads(out)["entries"]] == [
            server.url("/status/v1"),
            server.url("/status/v2"),
        ]
        assert workers() != [second]
    finally:
        small.close()


def test_zero_workers_runs_one_yt_dlp_per_listing(monkeypatch: pytest.MonkeyPatch) -> None:
    ran: list[list[str]] = []
    monkeypatch.setattr(ytdlp, "run", lambda args, **kw: ran.append(args) or "{}")
    monkeypatch.setattr(Pool, "run", lambda *a, **kw: pytest.fail("the pool was used"))
    assert ytdlp_pool.run(["--", "http://127.0.0.1:9/x"], timeout=1, workers=0) == "{}"
    assert ran == [["--", "http://127.0.0.1:9/x"]]


def test_a_usage_error_is_permanent_on_the_process_pool() -> None:
    with pytest.raises(PermanentError, match="yt-dlp: error: no such option"):
        ytdlp_pool.run(["--no-such-option", "--", "http://127.0.0.1:9/x"], timeout=60, workers=1)
    assert len(workers()) == 1
    assert ytdlp_pool.pool(1) is ytdlp_pool.pool(1)
