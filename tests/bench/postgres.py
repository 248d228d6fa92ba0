"""The `fleet` scenario: steady, 304 and scale rounds on PostgreSQL, and a 100,000-channel tick.

A fleet runs on PostgreSQL: many worker processes, each with its own pool.
For 1, 2 and 4 worker processes this measures a steady round (a share of the
feeds gained a video, no validators) and a round answered 304, and counts
the connections the fleet holds (pg_stat_activity, by application name:
every process of the scenario connects as `tpbench-…`, set through libpq's
PGAPPNAME). Then one tick claims and enqueues 100,000 due channels.
"""

from __future__ import annotations

import argparse
import os
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from .channels import populate
from .child import run_child
from .report import log, metric
from .rounds import poll_round
from .world import World, open_world

PROCESSES = (1, 2, 4)
TICK_TARGET_S = 10.0


@contextmanager
def connections(admin_url: str, application: str) -> Iterator[dict[str, int]]:
    """Sample the scenario's PostgreSQL connections every 0.2 s; yield {"peak": …}."""
    import psycopg2

    seen = {"peak": 0}
    stop = threading.Event()
    sampler = psycopg2.connect(admin_url, application_name="tpbench-sampler")
    sampler.autocommit = True

    def sample() -> None:
        with sampler.cursor() as cursor:
            while not stop.is_set():
                cursor.execute(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                    (application,),
                )
                seen["peak"] = max(seen["peak"], cursor.fetchone()[0])
                stop.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    try:
        yield seen
    finally:
        stop.set()
        thread.join(5)
        sampler.close()


def _rounds(world: World, s: dict[str, Any], ids: list[int], admin: str, app: str) -> dict:
    """Steady and 304 rounds with 1, 2 and 4 worker processes; rates and connections."""
    measured: dict[int, dict[str, Any]] = {}
    for processes in PROCESSES:
        world.start_workers(processes, s["threads"])
        world.feeds.control("set", validators=0)
        poll_round(world, ids[: max(1, min(len(ids) // 10, 500))])  # warm up
        world.feeds.control("upload", share=s["change_share"])
        log(f"fleet: steady round of {len(ids)} with {processes} worker process(es)")
        with connections(admin, app) as steady_conns:
            steady = poll_round(world)
        world.feeds.control("set", validators=1)
        poll_round(world)  # stores the validators
        log(f"fleet: 304 round with {processes} worker process(es)")
        with connections(admin, app) as answered_conns:
            answered = poll_round(world)
        world.stop_workers()
        measured[processes] = {
            "steady": steady,
            "304": answered,
            "connections": max(steady_conns["peak"], answered_conns["peak"]),
        }
    return measured


def _fleet_tick(args: argparse.Namespace, count: int) -> dict[str, float]:
    """Time one tick claiming and enqueueing `count` due channels: `fanout`, in its own process.

    A scenario's world is one per process (the actors bind at import), so
    the tick runs as the `fanout` scenario at this size, on this database.
    """
    log(f"fleet: one tick over {count:,} due channels (the fanout scenario)")
    result = run_child("fanout", argparse.Namespace(**{**vars(args), "fanout_channels": count}))
    if result.get("failed"):
        raise RuntimeError(f"the fanout scenario failed: {result.get('note')}")
    return result["values"]


def scenario_fleet(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    database = args.database_url or ""
    if not database.startswith("postg") or not os.environ.get("TUBEPOLLER_BROKER_URL"):
        return {
            "scenario": "fleet",
            "metrics": [],
            "values": {},
            "note": "skipped: needs --database-url postgresql://… and TUBEPOLLER_BROKER_URL",
        }
    app = f"tpbench-{uuid.uuid4().hex[:8]}"
    os.environ["PGAPPNAME"] = app  # this process and every worker it starts
    admin = database.split("?", 1)[0].replace("+pool", "")
    n = s["channels"]
    with open_world(args, channels=n, uploads=s["uploads"], latency=s["latency"]) as world:
        ids = populate(world)
        measured = _rounds(world, s, ids, admin, app)
    fleet_tick = _fleet_tick(args, s["fleet_tick_channels"])
    metrics = []
    for processes, m in measured.items():
        allowed = processes * s["threads"] + 2  # each thread's connection, the bench's own
        metrics += [
            metric(f"steady polls/s, {processes} process(es)", m["steady"]["rate"], "/s"),
            metric(f"304 polls/s, {processes} process(es)", m["304"]["rate"], "/s"),
            metric(
                f"peak connections, {processes} process(es)",
                m["connections"],
                "",
                f"<= {allowed}",
                m["connections"] <= allowed,
            ),
        ]
    failed = sum(m[k]["failed"] for m in measured.values() for k in ("steady", "304"))
    ratio = measured[2]["steady"]["rate"] / measured[1]["steady"]["rate"]
    metrics += [
        metric("steady 2 / 1 processes", ratio, "x"),
        metric("failed polls", failed, "", "0", failed == 0),
        metric(
            f"one tick, {fleet_tick['sent']:,} due",
            fleet_tick["seconds"],
            "s",
            f"< {TICK_TARGET_S:g} s",
            fleet_tick["seconds"] < TICK_TARGET_S,
        ),
    ]
    return {
        "scenario": "fleet",
        "metrics": metrics,
        "values": {"rounds": measured, "tick": fleet_tick, "ratio": ratio},
        "note": f"PostgreSQL, {s['threads']} threads per worker process",
    }
