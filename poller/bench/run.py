"""`tubepoller bench SCENARIO`: measure the pipeline against the loop it replaces.

Each scenario builds its own world (feed server process, fresh database,
fresh broker vhost, real workers; see `env.World`), prints a table and one
JSON line on stdout, and progress on stderr. `all` runs every scenario, each
in a process of its own, and prints one table and one JSON line for the lot.

Ratios are measured within one run: the machine may be shared and noisy, so
compare numbers from the same run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from typing import Any

SCENARIOS = ("fanout", "steady", "304", "queries", "fairness", "memory", "scale")

# name: (default, --quick, help)
SIZES: dict[str, tuple[Any, Any, str]] = {
    "channels": (5000, 200, "channels polled per round (steady, 304, scale)"),
    "fanout_channels": (20000, 1000, "due channels one tick claims and enqueues (fanout)"),
    "uploads": (15, 3, "uploads per channel (YouTube feeds carry the latest 15)"),
    "latency": (0.02, 0.005, "seconds the feed server waits before each answer"),
    "change_share": (0.02, 0.02, "share of feeds that gain a video before a round"),
    "reference_feeds": (300, 30, "feeds the sequential reference polls (its rate is per feed)"),
    "noop_messages": (20000, 500, "no-op messages sent to measure the broker's ceiling"),
    "memory_polls": (20000, 1000, "polls one worker process runs (memory)"),
    "memory_channels": (2000, 100, "channels per round (memory)"),
    "fast": (50, 10, "fast channels (fairness)"),
    "slow": (5, 2, "slow channels (fairness)"),
    "slow_seconds": (10.0, 1.0, "how long a slow channel's feed takes (fairness)"),
    "processes": (2, 1, "worker processes (RabbitMQ)"),
    "threads": (16, 4, "threads per worker process (a poll mostly waits: more than cores)"),
}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the bench options to the `tubepoller bench` sub-parser."""
    parser.add_argument("scenario", choices=(*SCENARIOS, "all"))
    parser.add_argument(
        "--quick", action="store_true", help="tiny sizes: a smoke test of the harness"
    )
    parser.add_argument(
        "--database-url",
        help="postgresql://… to bench on PostgreSQL (a fresh schema); default a SQLite file",
    )
    for name, (default, quick, text) in SIZES.items():
        parser.add_argument(
            "--" + name.replace("_", "-"),
            type=type(default),
            default=None,
            help=f"{text} (default {default}; --quick {quick})",
        )
    parser.add_argument(
        "--profile",
        metavar="DIR",
        help="py-spy the worker processes during the measured rounds (raw stacks into DIR)",
    )
    parser.add_argument("--json-only", action="store_true", help=argparse.SUPPRESS)


def _sizes(args: argparse.Namespace) -> dict[str, Any]:
    return {
        name: (
            getattr(args, name)
            if getattr(args, name) is not None
            else (quick if args.quick else default)
        )
        for name, (default, quick, _) in SIZES.items()
    }


# --- reporting -----------------------------------------------------------------


def metric(
    name: str, value: float, unit: str = "", target: str = "", ok: bool | None = None
) -> dict[str, Any]:
    return {"name": name, "value": value, "unit": unit, "target": target, "ok": ok}


def _format(value: Any) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    return f"{value:,}" if isinstance(value, int) else str(value)


def print_table(results: list[dict[str, Any]]) -> None:
    rows = [("SCENARIO", "MEASURE", "VALUE", "TARGET", "OK")]
    notes = []
    for result in results:
        for m in result["metrics"]:
            ok = "" if m["ok"] is None else ("yes" if m["ok"] else "NO")
            value = _format(m["value"]) + (f" {m['unit']}" if m["unit"] else "")
            rows.append((result["scenario"], m["name"], value, m["target"], ok))
        if result.get("note"):
            notes.append(f"{result['scenario']}: {result['note']}")
    widths = [max(len(r[i]) for r in rows) for i in range(5)]
    for row in rows:
        print("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    for note in notes:
        print(f"  * {note}")


def _context(args: argparse.Namespace, sizes: dict[str, Any]) -> dict[str, Any]:
    broker = "rabbitmq" if os.environ.get("TUBEPOLLER_BROKER_URL") else "embedded"
    database = "postgresql" if (args.database_url or "").startswith("postg") else "sqlite"
    return {
        "broker": broker,
        "database": database,
        "cpus": os.cpu_count(),
        "quick": bool(args.quick),
        "sizes": sizes,
    }


# --- scenarios -------------------------------------------------------------------


def _world(args: argparse.Namespace, **kwargs: Any):
    from pathlib import Path

    from .env import World

    world = World(
        database_url=args.database_url,
        broker_url=os.environ.get("TUBEPOLLER_BROKER_URL") or None,
        **kwargs,
    )
    if args.profile:
        world.profile_dir = Path(args.profile)
    return world


def _workers(world, sizes: dict[str, Any], processes: int | None = None):
    processes = processes or sizes["processes"]
    return world.start_workers(processes, sizes["threads"])


def _warm(world, ids: list[int]) -> None:
    """A short round first: connections, imports and caches warm up off the clock."""
    world.poll_round(ids[: max(1, min(len(ids) // 10, 500))])


def scenario_fanout(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from ..tick import fan_out
    from .env import log

    count = s["fanout_channels"]
    with _world(args, channels=0, uploads=0) as world:
        log(f"fanout: {count} channels")
        world.populate(count)
        world.make_due()
        # A second, smaller tick beforehand warms the broker connection and queue declare.
        started = time.perf_counter()
        sent = fan_out(world.actors.poll_channel, time.time(), world.settings)
        elapsed = time.perf_counter() - started
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
    from .env import log
    from .reference import sequential_poll

    n = s["channels"]
    with _world(
        args, channels=n, uploads=s["uploads"], latency=s["latency"], validators=False
    ) as world:
        ids = world.populate()
        sample = list(range(min(s["reference_feeds"], n)))
        log(f"steady: sequential reference over {len(sample)} feeds")
        cpu = world.feeds.cpu()
        reference = sequential_poll(world.feeds.base, sample)
        reference["feed_cpu"] = (world.feeds.cpu() - cpu) / reference["seconds"]
        _workers(world, s)
        _warm(world, ids)
        world.feeds.control("upload", share=s["change_share"])
        log(f"steady: {n} polls, {s['change_share']:.0%} with a new video")
        polled = world.poll_round(profile="steady")
        log(f"steady: {s['noop_messages']} no-op messages")
        ceiling = world.noop_rate(s["noop_messages"])
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
    from ..models import Channel
    from .env import log

    n = s["channels"]
    with _world(
        args, channels=n, uploads=s["uploads"], latency=s["latency"], validators=False
    ) as world:
        ids = world.populate()
        _workers(world, s)
        _warm(world, ids)
        world.feeds.control("upload", share=s["change_share"])
        log(f"304: steady round of {n} (no validators)")
        steady = world.poll_round()
        world.feeds.control("set", validators=1)
        log("304: a round to store the validators, then the measured round")
        world.poll_round()
        answered = world.poll_round(profile="304")
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


def _podcast(count: int) -> bytes:
    items = "".join(
        f"<item><guid>ep-{i}</guid><title>Episode {i}</title>"
        f'<enclosure url="http://127.0.0.1/ep-{i}.mp3" type="audio/mpeg"/>'
        f"<pubDate>Tue, 26 Nov 2030 10:00:{i % 60:02d} GMT</pubDate></item>"
        for i in range(count)
    )
    return f'<rss version="2.0"><channel><title>Pod</title>{items}</channel></rss>'.encode()


def _counting() -> tuple[list[str], Callable[[], None]]:
    """Count the SQL statements peewee logs (transaction control excluded)."""
    import logging

    statements: list[str] = []

    class Counter(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            sql = record.msg[0] if isinstance(record.msg, tuple) else str(record.msg)
            skip = ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE", "PRAGMA")
            if not sql.lstrip().upper().startswith(skip):
                statements.append(sql)

    logger = logging.getLogger("peewee")
    handler, level, propagate = Counter(logging.DEBUG), logger.level, logger.propagate
    logger.setLevel(logging.DEBUG)
    logger.propagate = False  # count, do not print
    logger.addHandler(handler)

    def stop() -> None:
        logger.removeHandler(handler)
        logger.setLevel(level)
        logger.propagate = propagate

    return statements, stop


def _count_poll(channel_id: int, settings) -> tuple[int, str, int]:
    from .. import pipeline

    statements, stop = _counting()
    try:
        result = pipeline.poll_channel(channel_id, time.time(), settings)
    finally:
        stop()
    return len(statements), result.outcome, len(result.new_video_ids)


def scenario_queries(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from .. import subscriptions

    with _world(args, channels=1, uploads=3, validators=False) as world:
        settings = world.settings
        (channel,) = world.populate(1)
        unchanged, outcome, _ = _count_poll(channel, settings)
        assert outcome == "unchanged", outcome
        world.feeds.control("set", validators=1)
        _count_poll(channel, settings)  # stores the ETag
        not_modified, outcome, _ = _count_poll(channel, settings)
        assert outcome == "not_modified", outcome
        rows = [
            metric("per unchanged poll (200, scanned)", unchanged, "", "<= 3", unchanged <= 3),
            metric("per 304 poll", not_modified, "", "<= 3", not_modified <= 3),
        ]
        per_scale = {}
        for videos, subscribers in ((1, 1), (10, 15), (100, 15)):
            name = f"pod{videos}x{subscribers}"
            url = world.feeds.control("raw", _podcast(1), name=name)["url"]
            now = time.time()
            users = [subscriptions.add_user(f"{name}-{i}", now)[0] for i in range(subscribers)]
            feed = None
            for user in users:
                feed = subscriptions.subscribe(user, url, "future_only", now, settings).channel
            _count_poll(feed.id, settings)  # the first poll catalogs episode 0
            world.feeds.control("raw", _podcast(1 + videos), name=name)
            count, outcome, new = _count_poll(feed.id, settings)
            assert new == videos, (outcome, new)
            per_scale[(videos, subscribers)] = count
        constant = len(set(per_scale.values())) == 1
        for (videos, subscribers), count in per_scale.items():
            rows.append(
                metric(
                    f"with V={videos} new, S={subscribers} subscribers",
                    count,
                    "",
                    "same at every scale",
                    constant,
                )
            )
        return {
            "scenario": "queries",
            "metrics": rows,
            "values": {
                "unchanged": unchanged,
                "not_modified": not_modified,
                "new": {f"{v},{s_}": c for (v, s_), c in per_scale.items()},
            },
        }


def scenario_fairness(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    from ..tick import fan_out
    from .env import log

    fast, slow = s["fast"], s["slow"]
    with _world(
        args, channels=slow + fast, uploads=s["uploads"], latency=s["latency"], validators=False
    ) as world:
        ids = world.populate()
        slow_ids, fast_ids = ids[:slow], ids[slow:]
        world.feeds.control("delay", first=0, count=slow, seconds=s["slow_seconds"])
        _workers(world, s)
        world.poll_round(fast_ids)  # warm-up
        alone = [world.poll_round(fast_ids, interval=0.002)["seconds"] for _ in range(5)]
        log(f"fairness: {slow} channels taking {s['slow_seconds']:g} s each, {fast} fast ones")
        since = time.time()
        world.make_due(slow_ids)
        fan_out(world.actors.poll_channel, time.time(), world.settings, channel_ids=slow_ids)
        time.sleep(min(0.3, s["slow_seconds"] / 5))  # the slow ones are taken first
        busy = []
        for _ in range(5):
            if sum(world.finished_since(since, slow_ids)) > 0:
                break  # the slow ones ended: any later round would be "alone"
            busy.append(world.poll_round(fast_ids, interval=0.002)["seconds"])
        overlapped = sum(world.finished_since(since, slow_ids)) == 0
        while sum(world.finished_since(since, slow_ids)) < slow:
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
    from .env import log

    n = s["memory_channels"]
    rounds = max(2, s["memory_polls"] // n)
    with _world(args, channels=n, uploads=s["uploads"], latency=0.0, validators=False) as world:
        ids = world.populate()
        workers = _workers(world, s, processes=1)
        _warm(world, ids)
        samples = []
        for number in range(rounds):
            world.feeds.control("upload", share=s["change_share"])
            world.poll_round()
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
    from .env import log

    if not os.environ.get("TUBEPOLLER_BROKER_URL"):
        return {
            "scenario": "scale",
            "metrics": [],
            "values": {},
            "note": "skipped: worker processes need RabbitMQ (set TUBEPOLLER_BROKER_URL)",
        }
    n = s["channels"]
    rates = {}
    with _world(
        args, channels=n, uploads=s["uploads"], latency=s["latency"], validators=False
    ) as world:
        ids = world.populate()
        for processes in (1, 2):
            _workers(world, s, processes=processes)
            _warm(world, ids)
            world.feeds.control("upload", share=s["change_share"])
            log(f"scale: {n} polls with {processes} worker process(es)")
            rates[processes] = world.poll_round()
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
}


# --- entry point -----------------------------------------------------------------


def _forwarded(args: argparse.Namespace) -> list[str]:
    flags = ["--quick"] if args.quick else []
    if args.database_url:
        flags += ["--database-url", args.database_url]
    if args.profile:
        flags += ["--profile", args.profile]
    for name in SIZES:
        if getattr(args, name) is not None:
            flags += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    return flags


def _run_child(scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [sys.executable, "-m", "poller.cli", "bench", scenario, "--json-only"]
    done = subprocess.run(command + _forwarded(args), stdout=subprocess.PIPE, text=True)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {
            "scenario": scenario,
            "metrics": [],
            "values": {},
            "note": f"FAILED (exit {done.returncode})",
            "failed": True,
        }
    return json.loads(lines[-1])["results"][0]


def run(args: argparse.Namespace) -> int:
    """Run one scenario, or all of them; print the table and the JSON line."""
    sizes = _sizes(args)
    started = time.perf_counter()
    if args.scenario == "all":
        results = []
        for scenario in SCENARIOS:
            from .env import log

            log(f"=== {scenario}")
            results.append(_run_child(scenario, args))
    else:
        results = [RUNNERS[args.scenario](args, sizes)]
    report = {
        "bench": "tubepoller",
        **_context(args, sizes),
        "seconds": round(time.perf_counter() - started, 1),
        "results": results,
    }
    if not args.json_only:
        print_table(results)
    print(json.dumps(report, default=str))
    return 1 if any(r.get("failed") for r in results) else 0
