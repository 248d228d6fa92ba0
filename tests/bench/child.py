"""A scenario in a process of its own, and the sizes every scenario takes.

A scenario's world is one per process (the actors bind at import), so `all`
and the scenarios that compare two databases run each one as a child.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from typing import Any

from tests.support.procs import ROOT

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


def forwarded(args: argparse.Namespace) -> list[str]:
    """The command-line flags of `args` a child scenario takes."""
    flags = ["--quick"] if args.quick else []
    if args.database_url:
        flags += ["--database-url", args.database_url]
    if args.profile:
        flags += ["--profile", args.profile]
    for name in SIZES:
        if getattr(args, name) is not None:
            flags += ["--" + name.replace("_", "-"), str(getattr(args, name))]
    return flags


def run_child(scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run `scenario` in a process of its own with `args`; return its result."""
    command = [sys.executable, "-m", "tests.bench", scenario, "--json-only"]
    done = subprocess.run(command + forwarded(args), cwd=ROOT, stdout=subprocess.PIPE, text=True)
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
