"""One integration or fault test's real processes: workers, a sender, the CLI, a teardown.

Every such test gets a `Cluster`: an environment pointing real `dramatiq`
worker processes at the session's vhost, the test's database and the test's
feed server; a sender for messages; the `tubepoller` command run as a
subprocess with the workers' environment; and a teardown that stops every
worker (SIGTERM, then SIGKILL of the process group) and deletes the queues.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import pytest

from .procs import ROOT, TUBEPOLLER, Worker, start_worker, wait_for
from .rabbit import Sender, Vhost

T = TypeVar("T")

# Each integration test runs on both databases.
BOTH_DATABASES = pytest.mark.parametrize(
    "database_url",
    ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
    indirect=True,
)


def fail_or_skip(message: str) -> None:
    """Skip locally, fail under CI=true (as `require_service` does)."""
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


def open_vhost() -> Vhost:
    """Create a test session's vhost; skip locally (fail under CI=true) when that fails."""
    if shutil.which("rabbitmqctl") is None:
        fail_or_skip("rabbitmqctl is not on PATH: cannot make a vhost for the tests")
    try:
        return Vhost.create()
    except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
        fail_or_skip(f"cannot create a RabbitMQ vhost: {exc}")
        raise  # not reached: fail_or_skip raises


@dataclass
class Cluster:
    """What one integration test runs: its environment, workers and a sender."""

    env: dict[str, str]
    logs: Path
    vhost: Vhost
    sender: Sender
    workers: list[Worker] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)  # CLI runs, for the failure report
    # Log fragments of the errors a test injects on purpose (a lost broker
    # connection, a restarting database): those records are not problems.
    expected: list[str] = field(default_factory=list)

    def start_worker(
        self, *queues: str, threads: int = 4, processes: int = 1, ready: bool = True
    ) -> Worker:
        """Start `dramatiq poller.actors --queues …` and wait until it is up."""
        name = f"{'+'.join(queues)}-{len(self.workers)}"
        log = self.logs / f"worker-{name}.log"
        worker = start_worker(
            name, queues, env=self.env, log=log, processes=processes, threads=threads
        )
        self.workers.append(worker)
        if ready:
            worker.wait_ready()
        return worker

    def tubepoller(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        """Run the `tubepoller` command with the workers' environment; it must succeed."""
        return self._run([str(TUBEPOLLER), *args], f"tubepoller {' '.join(args)}", timeout)

    def python(self, code: str, timeout: float = 60) -> str:
        """Run Python code in a subprocess with the workers' environment."""
        return self._run([sys.executable, "-c", code], f"python -c {code!r}", timeout).stdout

    def _run(self, argv: list[str], label: str, timeout: float) -> subprocess.CompletedProcess[str]:
        """Run a command that must succeed; keep its output for the failure report."""
        done = subprocess.run(
            argv, cwd=ROOT, env=self.env, capture_output=True, text=True, timeout=timeout
        )
        self.commands.append(f"$ {label}  (exit {done.returncode})\n{done.stdout}{done.stderr}")
        assert done.returncode == 0, self.commands[-1]
        return done

    def check_alive(self) -> bool:
        """Raise when a worker died that nobody killed on purpose."""
        for worker in self.workers:
            if not worker.killed and not worker.alive():
                raise AssertionError(
                    f"worker {worker.name} exited with {worker.proc.returncode}:\n"
                    + worker.text()[-3000:]
                )
        return True

    def wait(self, condition: Callable[[], T], what: str, timeout: float = 30) -> T:
        """Poll `condition` until it is truthy; fail fast if a worker dies."""
        return wait_for(condition, timeout, what, check=self.check_alive)

    def stop(self) -> None:
        """SIGTERM every worker at once, then SIGKILL what is left."""
        for worker in self.workers:
            worker.terminate()
        deadline = time.monotonic() + 15
        for worker in self.workers:
            worker.reap(max(0.1, deadline - time.monotonic()))

    def problems(self) -> list[str]:
        """Return the log records of the workers that no healthy run writes.

        Dramatiq logs a middleware's or an actor's unexpected exception with
        a traceback at ERROR/CRITICAL and carries on, so a broken middleware
        would otherwise pass every test that only looks at the database.
        A record whose text holds one of `expected` is the fault a test
        injected, not a problem.
        """
        found = []
        for worker in self.workers:
            # A traceback's lines come after its ERROR line; judge the whole record.
            for record in re.split(r"\n(?=\[\d{4}-\d\d-\d\d )", worker.text()):
                bad = "Traceback (most recent call last)" in record or any(
                    f"[{level}]" in record.split("\n", 1)[0] for level in ("ERROR", "CRITICAL")
                )
                if bad and not any(fragment in record for fragment in self.expected):
                    found.append(f"{worker.name}: {record[:2000]}")
        return found

    def report(self) -> str:
        parts = []
        for worker in self.workers:
            parts.append(f"----- worker {worker.name} ({worker.log}) -----\n{worker.text()}")
        parts.extend(self.commands)
        return "\n".join(parts)


@contextmanager
def running_cluster(
    request: Any, vhost: Vhost, env: dict[str, str], logs: Path
) -> Iterator[Cluster]:
    """Run one test's cluster: stop its workers and empty its queues after.

    The test fails when a worker logged an error the test did not expect.
    """
    vhost.reset()
    logs.mkdir()
    sender = Sender(vhost.url)
    running = Cluster(env, logs, vhost, sender)
    request.node.tubepoller_cluster = running
    try:
        yield running
    finally:
        running.stop()
        sender.close()
        vhost.reset()
    problems = running.problems()
    assert not problems, "the workers logged unexpected errors:\n" + "\n".join(problems)


def worker_env(
    *,
    broker_url: str,
    database_url: str,
    youtube_url: str,
    data_dir: Path,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """The environment of a worker or CLI process: nothing inherited from TUBEPOLLER_*."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("TUBEPOLLER_")}
    env.update(
        {
            "TUBEPOLLER_BROKER_URL": broker_url,
            "TUBEPOLLER_DATABASE_URL": database_url,
            "TUBEPOLLER_YOUTUBE_URL": youtube_url,
            "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "1",
            "TUBEPOLLER_RSS_TIMEOUT": "10",  # above the slowest feed a test serves
            "TUBEPOLLER_YTDLP_TIMEOUT": "60",
            "TUBEPOLLER_DOWNLOAD_TIMEOUT": "120",
            "TUBEPOLLER_HOST_RATE": "1000",  # the feed server on loopback is no YouTube
            "TUBEPOLLER_DATA_DIR": str(data_dir),
            "TUBEPOLLER_MEDIA_DIR": str(data_dir / "media"),
            "PYTHONUNBUFFERED": "1",
        }
    )
    env.update(extra or {})
    return env


def feed_path(channel_external_id: str) -> str:
    """The request target of a YouTube channel's feed on the feed server."""
    return f"/feeds/videos.xml?channel_id={channel_external_id}"


def catalog_path(channel_external_id: str) -> str:
    return f"/channel/{channel_external_id}/videos"


def hits_of(hits: Mapping[str, int], paths: Iterable[str]) -> dict[str, int]:
    return {path: hits.get(path, 0) for path in paths}
