"""The `databases` scenario: steady, 304 and scale on SQLite and on PostgreSQL, in one run.

Each of the three scenarios runs on a fresh SQLite file and on a fresh
schema of the PostgreSQL database named by ``--database-url``, each run in a
process of its own (a world is one per process), one right after the
other, with the same workers (``--processes`` × ``--threads``), feeds and
rounds. The order alternates from one scenario to the next, so a machine
that gets busier during the run does not always favour the same database.
PostgreSQL's rates are given as a share of SQLite's from the same run.

CPU per poll counts the worker processes and, on PostgreSQL, the server
processes that serve them: SQLite's work is inside the workers, PostgreSQL's
is not, and on one machine both take from the same cores.
"""

from __future__ import annotations

import argparse
import os
from typing import Any

from .child import run_child
from .report import log, metric

# (scenario, the round in its values, the row's label)
ROUNDS = (
    ("steady", "polls", "steady"),
    ("304", "not_modified", "304"),
    ("scale", "one", "scale, 1 process"),
    ("scale", "two", "scale, 2 processes"),
)
STEADY_TARGET = 0.8  # PostgreSQL's steady rate as a share of SQLite's


def _child_args(args: argparse.Namespace, database_url: str | None) -> argparse.Namespace:
    """The command line of one child run: this one's, on `database_url`."""
    child = argparse.Namespace(**vars(args))
    child.database_url = database_url
    child.profile = (
        os.path.join(args.profile, "sqlite" if database_url is None else "pg")
        if (args.profile)
        else None
    )
    # The steady scenario's sequential reference is not what is compared here.
    if child.reference_feeds is None:
        child.reference_feeds = 30
    if child.noop_messages is None:
        child.noop_messages = 500 if args.quick else 2000
    return child


def _per_poll_ms(round_: dict[str, float]) -> tuple[float, float]:
    """(worker CPU, database server CPU) per poll in ms."""
    rate = round_["rate"] or 1.0
    return 1000 * round_["worker_cpu"] / rate, 1000 * round_.get("database_cpu", 0.0) / rate


def scenario_databases(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    database = args.database_url or ""
    if not database.startswith("postg") or not os.environ.get("TUBEPOLLER_BROKER_URL"):
        return {
            "scenario": "databases",
            "metrics": [],
            "values": {},
            "note": "skipped: needs --database-url postgresql://… and TUBEPOLLER_BROKER_URL",
        }
    runs: dict[str, dict[str, Any]] = {}
    for number, scenario in enumerate(("steady", "304", "scale")):
        order = [("sqlite", None), ("postgresql", database)]
        for name, url in order if number % 2 == 0 else order[::-1]:
            log(f"databases: {scenario} on {name}")
            runs[f"{scenario}/{name}"] = run_child(scenario, _child_args(args, url))
    failed = [key for key, result in runs.items() if result.get("failed")]
    if failed:
        return {
            "scenario": "databases",
            "metrics": [],
            "values": {"runs": runs},
            "note": f"FAILED: {', '.join(failed)}",
            "failed": True,
        }
    metrics, ratios, cpu_ratios = [], {}, {}
    for scenario, key, label in ROUNDS:
        lite = runs[f"{scenario}/sqlite"]["values"][key]
        pg = runs[f"{scenario}/postgresql"]["values"][key]
        ratio = ratios[label] = pg["rate"] / lite["rate"]
        target = STEADY_TARGET if scenario == "steady" else None
        metrics += [
            metric(f"{label}: polls/s SQLite | PostgreSQL", _pair(lite["rate"], pg["rate"]), "/s"),
            metric(
                f"{label}: PostgreSQL / SQLite",
                ratio,
                "x",
                f">= {target:g}x" if target else "",
                ratio >= target if target else None,
            ),
        ]
        if scenario != "scale":
            lite_ms, _ = _per_poll_ms(lite)
            pg_ms, server_ms = _per_poll_ms(pg)
            # On busy cores the rate follows the CPU a poll costs: this
            # share is what PostgreSQL can reach there, whatever else runs.
            cpu_ratios[label] = lite_ms / (pg_ms + server_ms)
            metrics += [
                metric(
                    f"{label}: CPU per poll SQLite | PostgreSQL workers + server",
                    f"{lite_ms:.2f} | {pg_ms:.2f} + {server_ms:.2f}",
                    "ms",
                ),
                metric(f"{label}: CPU per poll, SQLite / PostgreSQL", cpu_ratios[label], "x"),
            ]
    noop = {
        name: runs[f"steady/{name}"]["values"]["noop"]["rate"] for name in ("sqlite", "postgresql")
    }
    busy = [
        runs[f"steady/{name}"]["values"]["polls"]["machine_busy"]
        for name in ("sqlite", "postgresql")
    ]
    failed_polls = sum(
        runs[f"{scenario}/{name}"]["values"][key]["failed"]
        for scenario, key, _ in ROUNDS
        for name in ("sqlite", "postgresql")
    )
    metrics += [
        metric(
            "no-op messages/s SQLite | PostgreSQL", _pair(noop["sqlite"], noop["postgresql"]), "/s"
        ),
        metric("machine busy, steady SQLite | PostgreSQL", _pair(*(100 * b for b in busy)), "%"),
        metric("failed polls", failed_polls, "", "0", failed_polls == 0),
    ]
    return {
        "scenario": "databases",
        "metrics": metrics,
        "values": {"ratios": ratios, "cpu_ratios": cpu_ratios, "runs": runs},
        "note": (
            f"{s['processes']} worker processes × {s['threads']} threads, {s['channels']:,}"
            " channels, each scenario on SQLite and PostgreSQL in turn"
        ),
    }


def _pair(first: float, second: float) -> str:
    return f"{first:,.0f} | {second:,.0f}"
