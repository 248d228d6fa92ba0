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
import time
from typing import Any

from .child import SIZES, run_child
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


def run(args: argparse.Namespace) -> int:
    """Run one scenario, or all of them; print the table and the JSON line."""
    sizes = _sizes(args)
    started = time.perf_counter()
    if args.scenario == "all":
        results = []
        for scenario in SCENARIOS:
            log(f"=== {scenario}")
            results.append(run_child(scenario, args))
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
