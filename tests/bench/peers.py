"""The `peers` scenario: tubepoller beside lemon24/reader, same feeds, same rounds.

reader (PyPI `reader`) is a one-process feed library: `update_feeds(workers=16)`
fetches every feed with conditional requests and parses every 200 with
feedparser. It needs Python 3.12 or newer, so it runs in a virtualenv of its
own (made once, under ~/.cache/tubepoller-bench/) from the first such Python
found: TUBEPOLLER_BENCH_PEER_PYTHON, python3.13/python3.12 on PATH, or a
pyenv version. Without one the scenario says so and is skipped.

Both systems poll the same channels on the same feed server process in each
round; between rounds a share of the feeds gains an upload, so each sees the
same changes. Two paths: validators on (most answers 304) and off (every
answer a 200). tubepoller's round is what its user runs: from the start of
`tubepoller poll --all` (which sends a tick message) until every channel is
polled, by `dramatiq poller.actors --queues poll tick` workers that run the
tick and the polls. Its CPU per poll counts that command's process, the
worker processes and RabbitMQ (the whole broker: on a machine it shares, the
others' traffic counts too; its idle rate before the round is in the JSON);
reader's counts its one process, from `update_feeds` to its end.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import shutil
import subprocess
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from tests.support import procs
from tests.support.synthetic import channel_id

from .channels import populate
from .report import log, metric
from .rounds import poll_round
from .world import World, open_world

PEER_REQUIREMENT = "reader>=3.26"
DRIVER = Path(__file__).with_name("peer_reader.py")
# The poll workers as the README runs them: the tick's queue beside the polls'.
WORKER_QUEUES = ("poll", "tick")


def find_peer_python() -> str | None:
    """Return a Python >= 3.12 to run reader with, or None."""
    named = os.environ.get("TUBEPOLLER_BENCH_PEER_PYTHON")
    candidates = [named] if named else []
    candidates += [shutil.which(name) for name in ("python3.13", "python3.12")]
    pyenv = Path(os.environ.get("PYENV_ROOT", Path.home() / ".pyenv"))
    candidates += sorted(glob.glob(str(pyenv / "versions/3.1[2-9]*/bin/python3")), reverse=True)
    for python in filter(None, candidates):
        check = "import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)"
        if subprocess.run([python, "-c", check], capture_output=True).returncode == 0:
            return python
    return None


def peer_venv(python: str) -> Path:
    """Return the Python of a virtualenv with reader installed, making it once."""
    version = subprocess.run(
        [python, "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    cache = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache"))
    home = cache / "tubepoller-bench" / f"reader-py{version}"
    venv_python = home / "bin" / "python"
    ready = (
        venv_python.exists()
        and not subprocess.run([venv_python, "-c", "import reader"], capture_output=True).returncode
    )
    if not ready:
        log(f"peers: making {home} with {PEER_REQUIREMENT}")
        subprocess.run([python, "-m", "venv", "--clear", str(home)], check=True)
        subprocess.run(
            [venv_python, "-m", "pip", "install", "-q", PEER_REQUIREMENT],
            check=True,
            stdout=subprocess.DEVNULL,
        )
    return venv_python


class Peer:
    """reader in its own process, one `update_feeds` per `round()`."""

    def __init__(self, python: Path, world: World, workers: int) -> None:
        urls = world.tmp / "peer-urls.txt"
        urls.write_text(
            "\n".join(
                f"{world.feeds.base}/feeds/videos.xml?channel_id={channel_id(n)}"
                for n in range(world.channels)
            )
        )
        database = world.tmp / "peer-reader.sqlite"
        self.process = subprocess.Popen(
            [str(python), str(DRIVER), str(database), str(urls), str(workers)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        self._answer()  # the feeds are added

    def _answer(self) -> dict[str, Any]:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        if not line:
            raise RuntimeError(f"the reader process ended (exit {self.process.wait()})")
        return json.loads(line)

    def round(self) -> dict[str, float]:
        """Update every feed once; return polls/s and CPU per poll."""
        assert self.process.stdin is not None
        self.process.stdin.write("round\n")
        self.process.stdin.flush()
        done = self._answer()
        return {
            **done,
            "rate": done["feeds"] / done["seconds"],
            "cpu_ms": 1000 * done["cpu"] / max(1, done["feeds"]),
        }

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        self.process.wait(30)


def cli_poll_all(world: World, ids: Sequence[int] | None) -> tuple[int, float]:
    """Run `tubepoller poll --all` as its user does; return the polls due and its CPU seconds."""
    command = [str(procs.TUBEPOLLER), "poll", "--all"]
    process = subprocess.Popen(
        command, cwd=procs.ROOT, env=world.child_env(), stdout=subprocess.DEVNULL
    )
    _, status, usage = os.wait4(process.pid, 0)
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode:
        raise RuntimeError(f"tubepoller poll --all exited with {process.returncode}")
    return (world.channels if ids is None else len(ids)), usage.ru_utime + usage.ru_stime


def read_tally(tally: Path | None, pids: list[int]) -> dict[str, float]:
    """CPU seconds of each part so far (`tally`), summed over the worker processes."""
    summed: dict[str, float] = {}
    if tally is None:
        return summed
    for pid in pids:
        try:
            totals = json.loads((tally / f"{pid}.json").read_text())
        except (FileNotFoundError, ValueError):
            continue
        for name, seconds in totals.items():
            summed[name] = summed.get(name, 0.0) + seconds
    return summed


def _parts_ms(before: dict, after: dict, polled: dict[str, float]) -> dict[str, float]:
    """CPU per poll of each tallied part, and of the worker processes' rest, in ms."""
    polls = max(1, polled["polls"])
    parts = {k: 1000 * (v - before.get(k, 0.0)) / polls for k, v in after.items()}
    workers = 1000 * polled["worker_cpu"] * polled["seconds"] / polls
    parts["dramatiq and pika: consumer threads, the rest"] = workers - sum(parts.values())
    return dict(sorted(parts.items(), key=lambda kv: -kv[1]))


def broker_idle(seconds: float = 1.0) -> float:
    """RabbitMQ's CPU rate (cores) while this scenario sends it nothing."""
    rabbit = procs.broker_pid()
    if rabbit is None:
        return 0.0
    before = procs.cpu_seconds(rabbit)
    time.sleep(seconds)
    return (procs.cpu_seconds(rabbit) - before) / seconds


def _tubepoller_cpu_ms(polled: dict[str, float]) -> float:
    """CPU per poll of `tubepoller poll --all`, the worker processes and RabbitMQ, in ms."""
    cores = polled["start_cpu"] + polled["worker_cpu"] + polled["broker_cpu"]
    return 1000 * cores * polled["seconds"] / max(1, polled["polls"])


def _split_ms(polled: dict[str, float]) -> dict[str, float]:
    """The CPU per poll of each part, in ms."""
    per_poll = 1000 * polled["seconds"] / max(1, polled["polls"])
    return {part: per_poll * polled[f"{part}_cpu"] for part in ("start", "worker", "broker")}


def _path_metrics(name: str, ours: dict[str, float], peer: dict[str, float]) -> list[dict]:
    rate_ratio = ours["rate"] / peer["rate"]
    ours_cpu = _tubepoller_cpu_ms(ours)
    cpu_ratio = ours_cpu / peer["cpu_ms"]
    return [
        metric(f"{name}: tubepoller polls/s", ours["rate"], "/s"),
        metric(f"{name}: reader polls/s", peer["rate"], "/s"),
        metric(f"{name}: tubepoller / reader", rate_ratio, "x", ">= 3x", rate_ratio >= 3),
        metric(f"{name}: tubepoller CPU per poll", ours_cpu, "ms"),
        metric(
            f"{name}: of which command / workers / RabbitMQ",
            " / ".join(f"{v:.2f}" for v in _split_ms(ours).values()),
            "ms",
        ),
        metric(f"{name}: reader CPU per poll", peer["cpu_ms"], "ms"),
        metric(f"{name}: CPU tubepoller / reader", cpu_ratio, "x", "<= 0.5x", cpu_ratio <= 0.5),
    ]


def scenario_peers(args: argparse.Namespace, s: dict[str, Any]) -> dict[str, Any]:
    skipped = {"scenario": "peers", "metrics": [], "values": {}}
    if not os.environ.get("TUBEPOLLER_BROKER_URL"):
        return {**skipped, "note": "skipped: the worker processes need RabbitMQ"}
    python = find_peer_python()
    if python is None:
        note = "skipped: reader needs Python >= 3.12 (set TUBEPOLLER_BENCH_PEER_PYTHON)"
        return {**skipped, "note": note}
    peer_python = peer_venv(python)
    n = s["channels"]
    with open_world(args, channels=n, uploads=s["uploads"], latency=s["latency"]) as world:
        ids = populate(world)
        peer = Peer(peer_python, world, s["threads"])
        try:
            log(f"peers: reader's first round over {n} feeds (stores every entry)")
            peer.round()
            tally = Path(args.profile) / "tally" if args.profile else None
            if tally is not None:  # the workers time each part (tests/bench/tally.py)
                tally.mkdir(parents=True, exist_ok=True)
                os.environ["TUBEPOLLER_BENCH_TALLY_DIR"] = str(tally)
            workers = world.start_workers(s["processes"], s["threads"], WORKER_QUEUES)
            metrics: list[dict] = []
            values: dict[str, Any] = {"peer_python": python}
            for name, validators in (("304 path", 1), ("200 path", 0)):
                world.feeds.control("set", validators=validators)
                # Stores (or forgets) the validators, warms up.
                poll_round(world, ids, start=cli_poll_all)
                peer.round()
                world.feeds.control("upload", share=s["change_share"])
                log(f"peers: {name}, {n} channels, {s['change_share']:.0%} with a new video")
                idle = broker_idle()
                before = read_tally(tally, workers.pids())
                ours = poll_round(world, ids, profile=f"peers-{validators}", start=cli_poll_all)
                time.sleep(0.5 if tally else 0)  # the workers' last totals reach their files
                parts = _parts_ms(before, read_tally(tally, workers.pids()), ours)
                theirs = peer.round()
                metrics += _path_metrics(name, ours, theirs)
                values[name] = {"tubepoller": {**ours, "broker_idle": idle}, "reader": theirs}
                if tally is not None:
                    values[name]["parts_ms"] = parts
                    log(f"peers: {name}, CPU per poll by part (ms):")
                    for part, ms in parts.items():
                        log(f"  {ms:6.3f}  {part}")
        finally:
            peer.close()
        return {"scenario": "peers", "metrics": metrics, "values": values}
