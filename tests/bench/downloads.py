"""The `downloads` scenario: polls/s while downloads start on the worker that polls.

One worker process consumes both the ``poll`` and the ``downloads`` queue, as
a small install's single ``dramatiq poller.actors`` does (and `tubepoller up`,
whose downloads run in the process that polls). Every round polls every
channel in one world, a share of the feeds gaining a new video before it:

- A: the subscriptions are ``catalog_only``, so nothing is downloaded;
- B: they are ``future_only``, so each new video's download starts while the
  round goes on, through the real path (the video's watch URL on the feed
  server, downloaded by ``python -m yt_dlp`` at TUBEPOLLER_DOWNLOAD_NICE;
  the server answers it with a media file of ``--media-kb``). The scenario
  waits for every download to end and checks its file.

The rounds go A, then ``--download-pairs`` times B and A, so drift on a
shared machine shows up instead of counting as the downloads' cost. Each B
is compared with the A rounds on either side; the ratio is their median.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from pathlib import Path
from typing import Any

from tests.support import procs

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
    own = _own_cpu(world)
    result = poll_round(world, profile=f"downloads-{name}")
    result["own_cpu_per_poll"] = (_own_cpu(world) - own) / result["polls"]
    return result


def _own_cpu(world: World) -> float:
    """CPU seconds of the worker processes themselves, not of the yt-dlp they ran."""
    if world.workers is None or world.workers.process is None:
        return procs.cpu_seconds(os.getpid())  # the embedded mode: children included
    total = 0.0
    for pid in world.workers.pids():
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        total += (int(fields[11]) + int(fields[12])) / procs.CLOCK_TICKS  # utime, stime
    return total


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


def _cpu(world: World) -> float:
    return world.workers.cpu() if world.workers else 0.0


def _pair(world: World, s: dict[str, Any], number: int) -> dict[str, Any]:
    """Round B (downloads starting) and the A round after it; wait for the downloads."""
    from poller.models import CATALOG_ONLY, FUTURE_ONLY, NOT_WANTED, Video

    _set_mode(FUTURE_ONLY)
    cpu = _cpu(world)
    wanted_before = Video.select().where(Video.download_status != NOT_WANTED).count()
    log(f"downloads: {world.channels} polls, the new videos downloaded (pair {number})")
    during = _round(world, s, f"B{number}")
    started = _started() - wanted_before  # the earlier pairs' downloads had all ended
    wanted = Video.select().where(Video.download_status != NOT_WANTED).count()
    complete, failed, waited = _wait_downloads(wanted, timeout=900)
    download_cpu = _cpu(world) - cpu
    _set_mode(CATALOG_ONLY)
    log(f"downloads: {world.channels} polls, none downloaded (pair {number})")
    after = _round(world, s, f"A{number}")
    return {
        "with": during,
        "after": after,
        "wanted": wanted - wanted_before,
        "started_in_round": started,
        "complete": complete,  # so far, every pair's
        "failed": failed,
        "waited_s": waited,
        "cpu_s": download_cpu,
    }


def scenario_downloads(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    """Measure polls/s with downloads starting mid-round on the same worker, and without."""
    from poller.models import CATALOG_ONLY

    n = s["download_channels"]
    with open_world(args, channels=n, uploads=s["uploads"], latency=s["latency"]) as world:
        media = world.feeds.control("set", media=int(s["media_kb"] * 1000))["media"]
        ids = populate(world)
        _set_mode(CATALOG_ONLY)
        world.start_workers(1, s["threads"], SHARED_QUEUES)
        poll_round(world, ids[: max(1, n // 10)])  # warm-up
        log(f"downloads: {n} polls, {s['download_share']:.0%} gain a video, none downloaded")
        first = _round(world, s, "A0")
        pairs = [_pair(world, s, number + 1) for number in range(s["download_pairs"])]
        files = _files_ok(media)
        rounds_a = [first, *(p["after"] for p in pairs)]
        ratios = [
            p["with"]["rate"] / ((a["rate"] + p["after"]["rate"]) / 2)
            for a, p in zip(rounds_a, pairs, strict=False)
        ]
        ratio = statistics.median(ratios)
        per_poll = sum(a["worker_cpu"] * a["seconds"] for a in rounds_a) / sum(
            a["polls"] for a in rounds_a
        )
        wanted = sum(p["wanted"] for p in pairs)
        complete, failed = pairs[-1]["complete"], pairs[-1]["failed"]
        # The worker's CPU from a B round's start until its last download ended (yt-dlp is
        # a reaped child, counted once it exits), less what the round's polls cost in A.
        per_download = sum(p["cpu_s"] - per_poll * p["with"]["polls"] for p in pairs) / max(
            1, complete
        )
        failed_polls = sum(r["failed"] for r in rounds_a) + sum(p["with"]["failed"] for p in pairs)
        without = statistics.median(a["rate"] for a in rounds_a)
        during = statistics.median(p["with"]["rate"] for p in pairs)
        spread = f"{min(ratios):.2f}-{max(ratios):.2f}"
        own_a = statistics.median(a["own_cpu_per_poll"] for a in rounds_a)
        own_b = statistics.median(p["with"]["own_cpu_per_poll"] for p in pairs)
        a_cpu = statistics.median(a["worker_cpu"] for a in rounds_a)
        b_cpu = statistics.median(p["with"]["worker_cpu"] for p in pairs)
        return {
            "scenario": "downloads",
            "metrics": [
                metric(f"polls/s, no downloads (median of {len(rounds_a)} A)", without, "/s"),
                metric(
                    f"polls/s, {wanted // len(pairs)} downloads starting"
                    f" (median of {len(pairs)} B)",
                    during,
                    "/s",
                ),
                metric(
                    f"with / without (median; each B over its A rounds: {spread})",
                    ratio,
                    "x",
                    f">= {TARGET:g}x",
                    ratio >= TARGET,
                ),
                metric(
                    "downloads started during their round",
                    sum(p["started_in_round"] for p in pairs),
                    "",
                ),
                metric(
                    "downloads complete, file checked",
                    files,
                    "",
                    str(wanted),
                    files == wanted == complete and wanted > 0,
                ),
                metric(
                    "last download ended after its round",
                    max(p["waited_s"] for p in pairs),
                    "s",
                ),
                metric("worker CPU per poll (A)", 1000 * per_poll, "ms"),
                metric(
                    "worker process's own CPU per poll, A / B (yt-dlp not counted)",
                    f"{1000 * own_a:.2f} / {1000 * own_b:.2f}",
                    "ms",
                ),
                metric("worker CPU per download (yt-dlp included)", per_download, "s"),
                metric("worker CPU, A / B", f"{a_cpu:.0%} / {b_cpu:.0%}", "of a core"),
                metric(
                    "machine busy, A / B",
                    f"{first['machine_busy']:.0%} / {pairs[0]['with']['machine_busy']:.0%}",
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
                "without": rounds_a,
                "pairs": pairs,
                "ratios": ratios,
                "ratio": ratio,
                "media_bytes": media,
                "files_ok": files,
                "cpu_s_per_download": per_download,
            },
            "note": "one worker process consumes the poll and downloads queues",
        }
