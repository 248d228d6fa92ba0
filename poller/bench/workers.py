"""Poll workers: `dramatiq` processes on RabbitMQ, or an in-process Worker."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import TYPE_CHECKING, Any

from . import procs

if TYPE_CHECKING:
    from .world import World

QUEUES = ("poll", "bench_noop")


class Workers:
    """Poll workers: `dramatiq` processes on RabbitMQ, or an in-process Worker."""

    def __init__(self, world: World, processes: int, threads: int) -> None:
        self.master: subprocess.Popen | None = None
        self.worker: Any = None
        if world.rabbit is None:
            from dramatiq import Worker

            self.worker = Worker(world.actors.broker, queues=set(QUEUES), worker_threads=threads)
            self.worker.start()
            return
        self.log_path = world.tmp / f"workers-{time.monotonic_ns()}.log"
        self._log = open(self.log_path, "w")  # noqa: SIM115 (closed in stop)
        command = [
            sys.executable,
            "-m",
            "dramatiq",
            "poller.actors",
            "poller.bench.noop",
            "--queues",
            *QUEUES,
            "--processes",
            str(processes),
            "--threads",
            str(threads),
        ]
        self.master = subprocess.Popen(
            command, env=world.child_env(), stdout=self._log, stderr=subprocess.STDOUT
        )
        deadline = time.monotonic() + 60
        while self._ready() < processes:
            if self.master.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"workers did not start; see {self.log_path}:\n{self.tail()}")
            time.sleep(0.1)

    def _ready(self) -> int:
        return self.log_path.read_text(errors="replace").count("is ready for action")

    def tail(self, lines: int = 30) -> str:
        """The last lines the worker processes logged ("" in the embedded mode)."""
        if self.master is None:
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The processes that run actors (this one in the embedded mode)."""
        if self.master is None:
            return [os.getpid()]
        return [
            pid
            for pid in procs.children(self.master.pid)
            if "resource_tracker" not in procs.cmdline(pid) and "fork" not in procs.cmdline(pid)
        ]

    def rss_mb(self) -> list[float]:
        """Resident memory of each process that runs actors, in MB."""
        return [procs.rss_mb(pid) for pid in self.pids()]

    def cpu(self) -> float:
        """CPU seconds of the worker processes so far."""
        if self.master is None:
            return procs.cpu_seconds(os.getpid())
        return sum(procs.cpu_seconds(pid) for pid in [self.master.pid, *self.pids()])

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            return
        if self.master is not None:
            procs.stop(self.master, 30)
            self._log.close()
