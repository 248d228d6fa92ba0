"""Prometheus metrics: counted by every process, served by the API at /metrics.

Workers, the scheduler and the API are separate processes (gunicorn and
`dramatiq` each fork several), so counters and histograms use
prometheus_client's multiprocess mode: each process writes its own files
under TUBEPOLLER_METRICS_DIR and /metrics adds them up. prometheus_client
picks the mode when it is first imported, which is why nothing here imports
it before `use_directory` had its say. The gauges — channels by health,
queue depth — are read from the database and the broker at each scrape,
so they are the fleet's, not one machine's.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ENV = "PROMETHEUS_MULTIPROC_DIR"
SECONDS_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 1800)


def use_directory(path: Path) -> None:
    """Count into files under `path`, shared with the other processes of this machine.

    Called by processes that are one of several (gunicorn's and dramatiq's
    workers), before anything imports prometheus_client. One process on its
    own (`tubepoller up`) keeps its series in memory.
    """
    path.mkdir(parents=True, exist_ok=True)
    os.environ[ENV] = str(path)


@dataclass(frozen=True)
class _Series:
    polls: Any
    poll_seconds: Any
    new_videos: Any
    downloads: Any
    download_seconds: Any
    notifications: Any


_series: _Series | None = None
_making = threading.Lock()  # worker threads count their first polls at once


def _get() -> _Series:
    global _series
    if _series is not None:
        return _series
    with _making:
        if _series is not None:
            return _series
        from prometheus_client import Counter, Histogram

        _series = _Series(
            polls=Counter("tubepoller_polls", "Polls by outcome.", ["outcome"]),
            poll_seconds=Histogram(
                "tubepoller_poll_seconds", "Time one poll took.", buckets=SECONDS_BUCKETS
            ),
            new_videos=Counter("tubepoller_new_videos", "New uploads announced."),
            downloads=Counter("tubepoller_downloads", "Downloads by end state.", ["state"]),
            download_seconds=Histogram(
                "tubepoller_download_seconds", "Time one download took.", buckets=SECONDS_BUCKETS
            ),
            notifications=Counter(
                "tubepoller_notifications", "Notification attempts by outcome.", ["status"]
            ),
        )
    return _series


def poll_done(outcome: str, seconds: float, new_videos: int) -> None:
    """Count one poll."""
    series = _get()
    series.polls.labels(outcome).inc()
    series.poll_seconds.observe(seconds)
    if new_videos:
        series.new_videos.inc(new_videos)


def download_done(state: str, seconds: float) -> None:
    """Count one download attempt by the state it ended in."""
    series = _get()
    series.downloads.labels(state).inc()
    series.download_seconds.observe(seconds)


def notification_done(status: str) -> None:
    """Count one delivery attempt by its outcome (sent, failed, pending for a retry…)."""
    _get().notifications.labels(status).inc()


class Timer:
    """Seconds since it was made (`time.perf_counter`)."""

    def __init__(self) -> None:
        self.started = time.perf_counter()

    @property
    def seconds(self) -> float:
        return time.perf_counter() - self.started


def exposition(
    channel_health: Callable[[], dict[str, int]],
    queue_depths: Callable[[], dict[str, int]],
    host_states: Callable[[], dict[str, int]] = dict,
) -> tuple[bytes, str]:
    """Return the text exposition of every process's series plus the fleet's gauges.

    Args:
        channel_health: channels by health (``{"ok": n, "failing": n, …}``).
        queue_depths: messages waiting in each queue.
        host_states: hosts by state (``{"paused": n, "degraded": n, "ok": n}``).

    Returns:
        The body and its content type.
    """
    from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, generate_latest
    from prometheus_client.core import GaugeMetricFamily

    class Fleet:
        def collect(self) -> Iterator[Any]:
            health = GaugeMetricFamily(
                "tubepoller_channels", "Channels by health.", labels=["health"]
            )
            for state, count in sorted(channel_health().items()):
                health.add_metric([state], count)
            yield health
            depth = GaugeMetricFamily(
                "tubepoller_queue_messages", "Messages waiting in a queue.", labels=["queue"]
            )
            for queue, count in sorted(queue_depths().items()):
                depth.add_metric([queue], count)
            yield depth
            hosts = GaugeMetricFamily(
                "tubepoller_hosts", "Hosts by state: paused (a bot check, a 429), degraded, ok.",
                labels=["state"],
            )
            for state, count in sorted(host_states().items()):
                hosts.add_metric([state], count)
            yield hosts

    fleet = CollectorRegistry()
    fleet.register(Fleet())
    if os.environ.get(ENV):
        from prometheus_client import multiprocess

        own = CollectorRegistry()
        multiprocess.MultiProcessCollector(own)
    else:  # one process (tests, a process without a metrics dir): its own series
        from prometheus_client import REGISTRY as own  # noqa: N811
    return generate_latest(own) + generate_latest(fleet), CONTENT_TYPE_LATEST
