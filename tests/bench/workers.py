"""Poll workers: `dramatiq` processes on RabbitMQ, or an in-process Worker."""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tests.support import procs

QUEUES = ("poll", "bench_noop")


class Workers:
    """Poll workers: `dramatiq` processes on RabbitMQ, or an in-process Worker.

    Args:
        processes: worker processes (RabbitMQ only).
        threads: threads per process.
        queues: the queues they consume (the poll and no-op queues by default).
        broker: the in-process broker an in-process Worker takes messages
            from (the embedded mode; used when `env` is None).
        env: the environment of `dramatiq` processes on RabbitMQ.
        log_dir: where those processes log.
        queues: the queues they consume.
    """

    def __init__(
        self,
        processes: int,
        threads: int,
        *,
        broker: Any = None,
        env: Mapping[str, str] | None = None,
        log_dir: Path | None = None,
        queues: tuple[str, ...] = QUEUES,
    ) -> None:
        self.process: procs.Worker | None = None
        self.worker: Any = None
        if env is None:
            from dramatiq import Worker

            self.worker = Worker(broker, queues=set(queues), worker_threads=threads)
            self.worker.start()
            return
        assert log_dir is not None
        self.process = procs.start_worker(
            "bench",
            queues,
            env=env,
            log=log_dir / f"workers-{time.monotonic_ns()}.log",
            modules=("poller.actors", "tests.bench.noop", "tests.bench.tally"),
            processes=processes,
            threads=threads,
        )
        try:
            self.process.wait_ready(60, processes)
        except AssertionError as exc:
            self.stop()
            raise RuntimeError(f"workers did not start ({exc}):\n{self.tail()}") from None

    def tail(self, lines: int = 30) -> str:
        """The last lines the worker processes logged ("" in the embedded mode)."""
        if self.process is None:
            return ""
        return "\n".join(self.process.text().splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The processes that run actors (this one in the embedded mode)."""
        return [os.getpid()] if self.process is None else self.process.pids()

    def rss_mb(self) -> list[float]:
        """Resident memory of each process that runs actors, in MB."""
        return [procs.rss_mb(pid) for pid in self.pids()]

    def cpu(self) -> float:
        """CPU seconds of the worker processes so far."""
        if self.process is None:
            return procs.cpu_seconds(os.getpid())
        return sum(procs.cpu_seconds(pid) for pid in [self.process.proc.pid, *self.pids()])

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
        if self.process is not None:
            self.process.terminate()
            self.process.reap(30)
