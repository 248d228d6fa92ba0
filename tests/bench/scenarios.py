"""The bench scenarios: each builds its world, measures, and returns its result.

A result is ``{"scenario", "metrics", "values"[, "note"]}``: `metrics` are the
table's rows (`report.metric`), `values` the raw numbers for the JSON line.
The pipeline's modules are imported inside the scenarios, after their world
has configured the database and broker.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

from .catalog import scenario_catalog
from .channels import claimed_count, finished_since, make_due, populate
from .databases import scenario_databases
from .downloads import scenario_downloads
from .freshness import scenario_freshness
from .peers import scenario_peers
from .postgres import scenario_fleet
from .queries import scenario_queries
from .report import log, metric
from .rounds import noop_rate, poll_round, tick
from .workers import Workers
from .world import World, open_world


def _feed_world(
    args: argparse.Namespace, s: dict[str, Any], channels: int, latency: float | None = None
) -> World:
    """A world whose feed server serves `channels` channels at the bench's sizes."""
    latency = s["latency"] if latency is None else latency
    return open_world(args, channels=channels, uploads=s["uploads"], latency=latency)


def _warm_workers(
    world: World, s: dict[str, Any], ids: list[int], processes: int | None = None
) -> Workers:
    """Start the workers, then a short round: connections, imports and caches warm up."""
    workers = world.start_workers(processes or s["processes"], s["threads"])
    poll_round(world, ids[: max(1, min(len(ids) // 10, 500))])
    return workers


def _add_uploads(world: World, s: dict[str, Any]) -> None:
    """Give a share of the feeds a new video before the measured round."""
    world.feeds.control("upload", share=s["change_share"])


def scenario_fanout(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    count = s["fanout_channels"]
    with open_world(args, channels=0, uploads=0) as world:
        log(f"fanout: {count} channels")
        populate(world, count)
        make_due()
        started = time.perf_counter()
        # The tick actor's whole run, as a worker runs it every minute: hosts
        # refreshed, due channels claimed and sent, lost downloads looked for.
        world.actors.tick.fn()
        elapsed = time.perf_counter() - started
        sent = claimed_count()
        if world.rabbit is None:
            world.actors.broker.flush_all()
        rate = sent / elapsed
        return {
            "scenario": "fanout",
            "metrics": [
                metric("due channels claimed+enqueued", rate, "/s", ">= 5,000/s", rate >= 5000),
                metric(
                    f"one tick with {sent:,} due", elapsed, "s", "well inside 60 s", elapsed < 30
                ),
            ],
            "values": {"rate": rate, "seconds": elapsed, "sent": sent},
        }


def scenario_steady(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from .reference import sequential_poll

    n = s["channels"]
    with _feed_world(args, s, n) as world:
        ids = populate(world)
        sample = list(range(min(s["reference_feeds"], n)))
        log(f"steady: sequential reference over {len(sample)} feeds")
        cpu = world.feeds.cpu()
        reference = sequential_poll(world.feeds.base, sample)
        reference["feed_cpu"] = (world.feeds.cpu() - cpu) / reference["seconds"]
        _warm_workers(world, s, ids)
        _add_uploads(world, s)
        log(f"steady: {n} polls, {s['change_share']:.0%} with a new video")
        polled = poll_round(world, profile="steady")
        log(f"steady: {s['noop_messages']} no-op messages")
        ceiling = noop_rate(world, s["noop_messages"])
        ratio = polled["rate"] / reference["rate"]
        return {
            "scenario": "steady",
            "metrics": [
                metric("polls/s (real pipeline)", polled["rate"], "/s"),
                metric("sequential reference", reference["rate"], "/s"),
                metric("pipeline / reference", ratio, "x", ">= 10x", ratio >= 10),
                metric("no-op messages (ceiling)", ceiling["rate"], "/s"),
                metric("polls / ceiling", 100 * polled["rate"] / ceiling["rate"], "%"),
                metric("feed server CPU during polls", 100 * polled["feed_cpu"], "% of a core"),
                metric("worker CPU during polls", 100 * polled["worker_cpu"], "% of a core"),
                metric("RabbitMQ CPU during polls", 100 * polled["broker_cpu"], "% of a core"),
                metric("machine busy during polls", 100 * polled["machine_busy"], "% of all CPUs"),
                metric("failed polls", polled["failed"], "", "0", polled["failed"] == 0),
            ],
            "values": {"polls": polled, "reference": reference, "noop": ceiling, "ratio": ratio},
        }


def scenario_304(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from poller.models import Channel

    n = s["channels"]
    with _feed_world(args, s, n) as world:
        ids = populate(world)
        _warm_workers(world, s, ids)
        _add_uploads(world, s)
        log(f"304: steady round of {n} (no validators)")
        steady = poll_round(world)
        world.feeds.control("set", validators=1)
        log("304: a round to store the validators, then the measured round")
        poll_round(world)
        answered = poll_round(world, profile="304")
        not_modified = Channel.select().where(Channel.last_outcome == "not_modified").count()
        ratio = answered["rate"] / steady["rate"]
        return {
            "scenario": "304",
            "metrics": [
                metric("polls/s answered 304", answered["rate"], "/s"),
                metric("polls/s steady (same run)", steady["rate"], "/s"),
                metric("304 / steady", ratio, "x", ">= 1.5x", ratio >= 1.5),
                metric("polls that got a 304", not_modified, "", f"{n:,}", not_modified == n),
                metric("feed server CPU during 304s", 100 * answered["feed_cpu"], "% of a core"),
                metric("machine busy during 304s", 100 * answered["machine_busy"], "% of all CPUs"),
            ],
            "values": {"not_modified": answered, "steady": steady, "ratio": ratio},
        }


def scenario_fairness(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    fast, slow = s["fast"], s["slow"]
    with _feed_world(args, s, slow + fast) as world:
        ids = populate(world)
        slow_ids, fast_ids = ids[:slow], ids[slow:]
        world.feeds.control("delay", first=0, count=slow, seconds=s["slow_seconds"])
        world.start_workers(s["processes"], s["threads"])
        poll_round(world, fast_ids)  # warm-up
        alone = [poll_round(world, fast_ids, interval=0.002)["seconds"] for _ in range(5)]
        log(f"fairness: {slow} channels taking {s['slow_seconds']:g} s each, {fast} fast ones")
        since = time.time()
        make_due(slow_ids)
        tick(world, slow_ids)
        time.sleep(min(0.3, s["slow_seconds"] / 5))  # the slow ones are taken first
        busy = []
        for _ in range(5):
            if sum(finished_since(since, slow_ids)) > 0:
                break  # the slow ones ended: any later round would be "alone"
            busy.append(poll_round(world, fast_ids, interval=0.002)["seconds"])
        overlapped = sum(finished_since(since, slow_ids)) == 0
        while sum(finished_since(since, slow_ids)) < slow:
            time.sleep(0.1)
        ratio = statistics.median(busy) / statistics.median(alone)
        return {
            "scenario": "fairness",
            "metrics": [
                metric(f"{fast} fast channels alone", statistics.median(alone), "s"),
                metric(f"same, beside {slow} slow", statistics.median(busy), "s"),
                metric("slowed by", ratio, "x", "<= 1.2x", ratio <= 1.2 and overlapped),
            ],
            "values": {"alone": alone, "busy": busy, "ratio": ratio, "overlapped": overlapped},
            "note": "" if overlapped else "the slow polls ended before the fast rounds did",
        }


def scenario_memory(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    n = s["memory_channels"]
    rounds = max(2, s["memory_polls"] // n)
    with _feed_world(args, s, n, latency=0.0) as world:
        ids = populate(world)
        workers = _warm_workers(world, s, ids, processes=1)
        samples = []
        for number in range(rounds):
            _add_uploads(world, s)
            poll_round(world)
            samples.append(max(workers.rss_mb()))
            log(f"memory: round {number + 1}/{rounds}: worker RSS {samples[-1]:.1f} MB")
        middle = samples[len(samples) // 2 - 1]
        first, second = middle - samples[0], samples[-1] - middle
        flat = second <= max(2.0, 0.25 * abs(first))
        where = "the bench process (embedded)" if world.rabbit is None else "the worker process"
        return {
            "scenario": "memory",
            "metrics": [
                metric(
                    f"RSS after {rounds * n:,} polls",
                    samples[-1],
                    "MB",
                    "<= 150 MB",
                    samples[-1] <= 150,
                ),
                metric("growth, first half", first, "MB"),
                metric("growth, second half", second, "MB", "flat", flat),
            ],
            "values": {"rss_mb": samples, "polls": rounds * n},
            "note": f"RSS of {where}",
        }


def scenario_scale(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    if not os.environ.get("TUBEPOLLER_BROKER_URL"):
        return {
            "scenario": "scale",
            "metrics": [],
            "values": {},
            "note": "skipped: worker processes need RabbitMQ (set TUBEPOLLER_BROKER_URL)",
        }
    n = s["channels"]
    rates = {}
    with _feed_world(args, s, n) as world:
        ids = populate(world)
        for processes in (1, 2):
            _warm_workers(world, s, ids, processes=processes)
            _add_uploads(world, s)
            log(f"scale: {n} polls with {processes} worker process(es)")
            rates[processes] = poll_round(world)
            world.stop_workers()
        ratio = rates[2]["rate"] / rates[1]["rate"]
        return {
            "scenario": "scale",
            "metrics": [
                metric("polls/s, 1 worker process", rates[1]["rate"], "/s"),
                metric("polls/s, 2 worker processes", rates[2]["rate"], "/s"),
                metric("2 / 1", ratio, "x", ">= 1.6x", ratio >= 1.6),
                metric("feed server CPU with 2", 100 * rates[2]["feed_cpu"], "% of a core"),
                metric("machine busy with 1", 100 * rates[1]["machine_busy"], "% of all CPUs"),
                metric("machine busy with 2", 100 * rates[2]["machine_busy"], "% of all CPUs"),
            ],
            "values": {"one": rates[1], "two": rates[2], "ratio": ratio},
        }


RUNNERS: dict[str, Callable[[argparse.Namespace, dict[str, Any]], dict[str, Any]]] = {
    "fanout": scenario_fanout,
    "steady": scenario_steady,
    "304": scenario_304,
    "queries": scenario_queries,
    "fairness": scenario_fairness,
    "memory": scenario_memory,
    "scale": scenario_scale,
    "fleet": scenario_fleet,
    "databases": scenario_databases,
    "peers": scenario_peers,
    "freshness": scenario_freshness,
    "catalog": scenario_catalog,
    "downloads": scenario_downloads,
}
