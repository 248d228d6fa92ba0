"""`python -m tests.bench SCENARIO`: measure the pipeline against the loop it replaces.

Each scenario builds its own world (feed server process, fresh database,
fresh broker vhost, real workers; see `world.World`), prints a table and one
JSON line on stdout, and progress on stderr. `all` runs every scenario, each
in a process of its own, and prints one table and one JSON line for the lot.

Ratios are measured within one run: the machine may be shared and noisy, so
compare numbers from the same run, not across runs.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from typing import Any

from tests.support.procs import ROOT

from .report import log, print_table

SCENARIOS = (
    "fanout",
    "steady",
    "304",
    "queries",
    "fairness",
    "memory",
    "scale",
    "fleet",
    "databases",
    "peers",
    "freshness",
    "catalog",
    "downloads",
)

# name: (default, --quick, help)
SIZES: dict[str, tuple[Any, Any, str]] = {
    "channels": (5000, 200, "channels polled per round (steady, 304, scale)"),
    "fanout_channels": (20000, 1000, "due channels one tick claims and enqueues (fanout)"),
    "fleet_tick_channels": (100000, 1000, "due channels of the PostgreSQL tick (fleet)"),
    "uploads": (15, 3, "uploads per channel (YouTube feeds carry the latest 15)"),
    "latency": (0.02, 0.005, "seconds the feed server waits before each answer"),
    "change_share": (0.02, 0.02, "share of feeds that gain a video before a round"),
    "reference_feeds": (300, 30, "feeds the sequential reference polls (its rate is per feed)"),
    "noop_messages": (20000, 500, "no-op messages sent to measure the broker's ceiling"),
    "catalog_channels": (200, 20, "never-cataloged channels per round, each way (catalog)"),
    "memory_polls": (20000, 1000, "polls one worker process runs (memory)"),
    "memory_channels": (2000, 100, "channels per round (memory)"),
    "fast": (50, 10, "fast channels (fairness)"),
    "slow": (5, 2, "slow channels (fairness)"),
    "slow_seconds": (10.0, 1.0, "how long a slow channel's feed takes (fairness)"),
    "processes": (2, 1, "worker processes (RabbitMQ)"),
    "threads": (16, 4, "threads per worker process (a poll mostly waits: more than cores)"),
    "download_channels": (600, 60, "channels per round (downloads)"),
    "download_share": (0.02, 0.03, "share of feeds that gain a video each round (downloads)"),
    "media_kb": (300, 100, "size of each downloaded media file, KB (downloads)"),
    "download_pairs": (3, 1, "rounds with downloads, each followed by one without (downloads)"),
    "freshness_channels": (1000, 200, "simulated channels on one host (freshness)"),
    "freshness_days": (14.0, 3.0, "simulated days (freshness)"),
    "push_share": (0.9, 0.9, "share of uploads a push announces (freshness)"),
}


def build_parser() -> argparse.ArgumentParser:
    """Return the parser of `python -m tests.bench`."""
    parser = argparse.ArgumentParser(
        prog="python -m tests.bench",
        description="Benchmark the pipeline against a sequential poller.",
    )
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
    return parser


def _sizes(args: argparse.Namespace) -> dict[str, Any]:
    return {
        name: (
            getattr(args, name)
            if getattr(args, name) is not None
            else (quick if args.quick else default)
        )
        for name, (default, quick, _) in SIZES.items()
    }


# --- entry point -----------------------------------------------------------------


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
    command = [sys.executable, "-m", "tests.bench", scenario, "--json-only"]
    done = subprocess.run(command + _forwarded(args), cwd=ROOT, stdout=subprocess.PIPE, text=True)
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
            log(f"=== {scenario}")
            results.append(_run_child(scenario, args))
    else:
        # Imported here: `all` runs each scenario in a process of its own.
        from .scenarios import RUNNERS

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
