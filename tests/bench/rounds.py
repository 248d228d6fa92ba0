"""Measured rounds in a scenario's world: poll rounds and the no-op ceiling."""

from __future__ import annotations

import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support import procs

from .channels import finished_since, make_due
from .report import log
from .world import World


def tick(world: World, channel_ids: Sequence[int] | None = None) -> int:
    """Claim the due channels and send their polls, as the real tick does."""
    from poller.enqueue import enqueue_polls

    return enqueue_polls(
        world.actors.poll_channel, time.time(), world.settings, channel_ids=channel_ids
    )


def poll_round(
    world: World,
    ids: Sequence[int] | None = None,
    *,
    timeout: float = 600,
    interval: float = 0.05,
    profile: str = "",
    start: Callable[[World, Sequence[int] | None], tuple[int, float]] | None = None,
) -> dict[str, float]:
    """Make channels due, fan them out with the real tick, wait for every poll.

    `start` replaces the tick run here: it starts the round and returns the
    polls to wait for and the CPU seconds it spent outside the workers (a
    command's process), which count as the round's.

    Returns the elapsed seconds, polls, failures, polls/s and the CPU
    seconds the feed server, the workers and (PostgreSQL) the server
    processes serving the workers used meanwhile, per second.
    """
    make_due(ids)
    spies = _start_profilers(world, profile) if profile else []
    feed_cpu, worker_cpu = world.feeds.cpu(), world.workers.cpu() if world.workers else 0.0
    rabbit = procs.broker_pid() if world.rabbit else None
    rabbit_cpu = _cpu(rabbit)
    busy, total = procs.machine_busy()
    database_cpu = world.database_cpu()
    since = time.time()
    started = time.perf_counter()
    sent, start_cpu = start(world, ids) if start else (tick(world, ids), 0.0)
    deadline = started + timeout
    polled = failed = 0
    while True:
        polled, failed = finished_since(since, ids)
        if polled + failed >= sent:
            break
        if time.perf_counter() > deadline:
            tail = world.workers.tail() if world.workers else ""
            raise RuntimeError(
                f"only {polled + failed} of {sent} polls finished in {timeout:g} s\n{tail}"
            )
        time.sleep(interval)
    elapsed = time.perf_counter() - started
    busy_after, total_after = procs.machine_busy()
    database_after = world.database_cpu()
    for spy in spies:
        spy.send_signal(2)
        spy.wait(30)
    return {
        "machine_busy": (busy_after - busy) / max(1, total_after - total),
        "broker_cpu": (_cpu(rabbit) - rabbit_cpu) / elapsed,
        "seconds": elapsed,
        "polls": polled + failed,
        "failed": failed,
        "rate": (polled + failed) / elapsed,
        "feed_cpu": (world.feeds.cpu() - feed_cpu) / elapsed,
        "worker_cpu": ((world.workers.cpu() if world.workers else 0.0) - worker_cpu) / elapsed,
        # A backend that started during the round counts from 0.
        "database_cpu": sum(cpu - database_cpu.get(pid, 0.0) for pid, cpu in database_after.items())
        / elapsed,
        "start_cpu": start_cpu / elapsed,
    }


def _cpu(pid: int | None) -> float:
    """CPU seconds of `pid`; 0 when there is none, or it ended (a test's own broker)."""
    try:
        return procs.cpu_seconds(pid) if pid else 0.0
    except OSError:
        return 0.0


def _start_profilers(world: World, name: str) -> list[subprocess.Popen]:
    """Start py-spy on every worker process; the round stops them (SIGINT)."""
    if world.profile_dir is None or world.workers is None:
        return []
    spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(spy).exists():
        log("--profile: py-spy is not installed (pip install py-spy)")
        return []
    world.profile_dir.mkdir(parents=True, exist_ok=True)
    spies = []
    for pid in world.workers.pids():
        out = world.profile_dir / f"{name}-{pid}.txt"
        command = [spy, "record", "--nonblocking", "-p", str(pid), "-f", "raw", "-r", "200"]
        spies.append(
            subprocess.Popen(
                [*command, "-o", str(out)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
    log(f"profiling {len(spies)} worker process(es) into {world.profile_dir}")
    time.sleep(0.5)
    return spies


def noop_rate(world: World, messages: int, timeout: float = 300) -> dict[str, float]:
    """Send `messages` no-op messages through the poll workers' broker and time them."""
    assert world.noop_socket is not None
    received = 0
    done = threading.Event()
    sock = world.noop_socket
    sock.settimeout(0.2)

    def count() -> None:
        nonlocal received
        while not done.is_set():
            try:
                received += len(sock.recv(65536))
            except TimeoutError:
                continue
            if received >= messages:
                done.set()

    counter = threading.Thread(target=count, daemon=True)
    started = time.perf_counter()
    counter.start()
    for _ in range(messages):
        world.noop.noop.send()
    sent_in = time.perf_counter() - started
    finished = done.wait(timeout)
    elapsed = time.perf_counter() - started
    done.set()
    counter.join()
    if not finished:
        log(f"no-op: only {received} of {messages} acknowledged in {timeout:g} s")
    return {
        "rate": received / elapsed,
        "seconds": elapsed,
        "send_rate": messages / sent_in,
        "received": received,
    }
