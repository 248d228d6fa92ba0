"""The `downloads` scenario: polls/s while downloads start on the worker that polls.

One worker process consumes both the ``poll`` and the ``downloads`` queue, as
a small install's single ``dramatiq poller.actors`` does (and `tubepoller up`,
whose downloads run in the process that polls). Three rounds poll every
channel in one world, a share of the feeds gaining a new video before each:

- A: the subscriptions are ``catalog_only``, so nothing is downloaded;
- B: they are ``future_only``, so each new video's download starts while the
  round goes on, through the real path (the video's watch URL on the feed
  server, downloaded by ``python -m yt_dlp`` at TUBEPOLLER_DOWNLOAD_NICE;
  the server answers it with a media file of ``--media-kb``);
- A again, so drift on a shared machine shows up instead of counting as the
  downloads' cost.

The ratio is round B's polls/s over the mean of the two A rounds. Then the
scenario waits for every download and checks its file.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from typing import Any

from .channels import populate
from .report import log, metric
from .rounds import poll_round
from .workers import QUEUES
from .world import World, open_world

TARGET = 0.8  # polls/s with downloads starting / without, the target
SHARED_QUEUES = (*QUEUES, "downloads")


def _set_mode(mode: str) -> None:
    from poller.models import Subscription

    Subscription.update(mode=mode).execute()


def _round(world: World, s: dict[str, Any], name: str) -> dict[str, float]:
    world.feeds.control("upload", share=s["download_share"])
    return poll_round(world, profile=f"downloads-{name}")


def _wait_downloads(expected: int, timeout: float) -> tuple[int, int, float]:
    """Wait until `expected` downloads ended; return (complete, failed, seconds waited)."""
    from poller.models import COMPLETE, FAILED, UNAVAILABLE, Video

    started = time.perf_counter()
    ended = (COMPLETE, FAILED, UNAVAILABLE)
    while time.perf_counter() - started < timeout:
        if Video.select().where(Video.download_status.in_(ended)).count() >= expected:
            break
        time.sleep(0.2)
    complete = Video.select().where(Video.download_status == COMPLETE).count()
    failed = Video.select().where(Video.download_status.in_((FAILED, UNAVAILABLE))).count()
    return complete, failed, time.perf_counter() - started


def _started() -> int:
    """Downloads under way or done (a round's end: those that started during it)."""
    from poller.models import NOT_WANTED, PENDING, Video

    return Video.select().where(Video.download_status.not_in((NOT_WANTED, PENDING))).count()


def _files_ok(size: int) -> int:
    """Complete videos whose file is there with the size the server sent."""
    from poller.models import COMPLETE, Video

    paths = [v.download_path for v in Video.select().where(Video.download_status == COMPLETE)]
    return sum(1 for p in paths if p and Path(p).is_file() and Path(p).stat().st_size == size)


def scenario_downloads(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    """Measure polls/s with downloads starting mid-round on the same worker, and without."""
    from poller.models import CATALOG_ONLY, FUTURE_ONLY, NOT_WANTED, Video

    n = s["download_channels"]
    with open_world(args, channels=n, uploads=s["uploads"], latency=s["latency"]) as world:
        media = world.feeds.control("set", media=int(s["media_kb"] * 1000))["media"]
        ids = populate(world)
        _set_mode(CATALOG_ONLY)
        world.start_workers(1, s["threads"], SHARED_QUEUES)
        poll_round(world, ids[: max(1, n // 10)])  # warm-up
        log(f"downloads: {n} polls, {s['download_share']:.0%} gain a video, none downloaded")
        before = _round(world, s, "A")
        _set_mode(FUTURE_ONLY)
        cpu = world.workers.cpu() if world.workers else 0.0
        log(f"downloads: {n} polls, the new videos downloaded ({media:,} bytes each)")
        during = _round(world, s, "B")
        started = _started()
        wanted = Video.select().where(Video.download_status != NOT_WANTED).count()
        complete, failed, waited = _wait_downloads(wanted, timeout=600)
        download_cpu = (world.workers.cpu() if world.workers else 0.0) - cpu
        _set_mode(CATALOG_ONLY)
        log(f"downloads: {n} polls, none downloaded, again")
        after = _round(world, s, "A2")
        files = _files_ok(media)
        without = (before["rate"] + after["rate"]) / 2
        ratio = during["rate"] / without
        poll_cpu = before["worker_cpu"] * before["seconds"] + after["worker_cpu"] * after["seconds"]
        per_poll = poll_cpu / (before["polls"] + after["polls"])
        # The worker's CPU from round B's start until the last download ended (yt-dlp is
        # a reaped child, counted once it exits), less what its polls cost in round A.
        per_download = (download_cpu - per_poll * during["polls"]) / max(1, complete)
        failed_polls = before["failed"] + during["failed"] + after["failed"]
        return {
            "scenario": "downloads",
            "metrics": [
                metric("polls/s, no downloads (A, A again)", without, "/s"),
                metric(f"polls/s, {wanted} downloads starting", during["rate"], "/s"),
                metric("with / without", ratio, "x", f">= {TARGET:g}x", ratio >= TARGET),
                metric("downloads started during the round", started, "", str(wanted)),
                metric(
                    "downloads complete, file checked",
                    files,
                    "",
                    str(wanted),
                    files == wanted and complete == wanted and wanted > 0,
                ),
                metric("last download ended after the round", waited, "s"),
                metric("worker CPU per poll (A)", 1000 * per_poll, "ms"),
                metric("worker CPU per download (yt-dlp included)", per_download, "s"),
                metric(
                    "worker CPU, A / B",
                    f"{before['worker_cpu']:.0%} / {during['worker_cpu']:.0%}",
                    "of a core",
                ),
                metric(
                    "machine busy, A / B",
                    f"{before['machine_busy']:.0%} / {during['machine_busy']:.0%}",
                    "",
                ),
                metric(
                    "failed polls / downloads",
                    f"{failed_polls} / {failed}",
                    "",
                    "0 / 0",
                    failed_polls + failed == 0,
                ),
            ],
            "values": {
                "without": [before, after],
                "with": during,
                "ratio": ratio,
                "downloads": {
                    "wanted": wanted,
                    "started_in_round": started,
                    "complete": complete,
                    "failed": failed,
                    "files_ok": files,
                    "bytes": media,
                    "waited_s": waited,
                    "cpu_s_each": per_download,
                },
            },
            "note": "one worker process: poll and downloads queues",
        }
