"""Real processes for the integration tests: RabbitMQ vhosts, `dramatiq` workers, the CLI.

The test process never imports `poller.actors` with a RabbitMQ URL (its broker
is built once per process, and the in-process tests need the StubBroker).
Messages go to RabbitMQ through a small broker built here, or through the
`tubepoller` command run as a subprocess with the workers' environment.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import dramatiq
import pika
import pytest
from dramatiq.brokers.rabbitmq import RabbitmqBroker

BIN = Path(sys.executable).parent
DRAMATIQ = BIN / "dramatiq"
TUBEPOLLER = BIN / "tubepoller"
ROOT = Path(__file__).resolve().parents[2]
QUEUES = ("poll", "tick", "downloads")
ALL_QUEUES = tuple(f"{q}{suffix}" for q in QUEUES for suffix in ("", ".DQ", ".XQ"))

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


def rabbitmqctl(*args: str, timeout: float = 30) -> str:
    """Run rabbitmqctl and return its stdout; raise with its stderr on failure."""
    done = subprocess.run(
        ["rabbitmqctl", *args], capture_output=True, text=True, timeout=timeout, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"rabbitmqctl {' '.join(args)} failed: {done.stderr.strip()}")
    return done.stdout


@dataclass
class Vhost:
    """A RabbitMQ vhost of its own: the session's queue namespace."""

    name: str
    host: str = "127.0.0.1"
    port: int = 5672

    @property
    def url(self) -> str:
        return f"amqp://guest:guest@{self.host}:{self.port}/{self.name}"

    @classmethod
    def create(cls) -> Vhost:
        if shutil.which("rabbitmqctl") is None:
            fail_or_skip("rabbitmqctl is not on PATH: cannot make a vhost for the tests")
        vhost = cls("tp_" + uuid.uuid4().hex[:12])
        try:
            rabbitmqctl("add_vhost", vhost.name)
            rabbitmqctl("set_permissions", "-p", vhost.name, "guest", ".*", ".*", ".*")
        except (RuntimeError, OSError, subprocess.TimeoutExpired) as exc:
            fail_or_skip(f"cannot create a RabbitMQ vhost: {exc}")
        return vhost

    def delete(self) -> None:
        rabbitmqctl("delete_vhost", self.name)

    def queues(self) -> dict[str, tuple[int, int]]:
        """Return every queue of the vhost: name → (ready, unacknowledged)."""
        out = rabbitmqctl(
            "list_queues", "-p", self.name, "--quiet", "--no-table-headers",
            "name", "messages_ready", "messages_unacknowledged",
        )  # fmt: skip
        found = {}
        for line in out.splitlines():
            parts = line.split()
            if len(parts) == 3:
                found[parts[0]] = (int(parts[1]), int(parts[2]))
        return found

    def reset(self) -> None:
        """Delete the queues tubepoller uses, so a test starts from nothing.

        Messages a test leaves behind (a retry waiting in poll.DQ, say) name
        rows of that test's database and must not reach the next test's workers.
        """
        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        try:
            channel = connection.channel()
            for name in ALL_QUEUES:
                channel.queue_delete(name)  # idempotent: a missing queue is fine
        finally:
            connection.close()


class Sender:
    """Send messages to the workers' actors without declaring them here."""

    def __init__(self, url: str) -> None:
        self.broker = RabbitmqBroker(url=url, confirm_delivery=True)

    def send(self, queue: str, actor: str, *args: Any, **kwargs: Any) -> dramatiq.Message:
        message = dramatiq.Message(
            queue_name=queue, actor_name=actor, args=args, kwargs=kwargs, options={}
        )
        return self.broker.enqueue(message)

    def poll(self, *channel_ids: int) -> None:
        for channel_id in channel_ids:
            self.send("poll", "poll_channel", channel_id)

    def close(self) -> None:
        self.broker.close()


@dataclass
class Worker:
    """One `dramatiq poller.actors` command: its master and worker processes."""

    name: str
    queues: tuple[str, ...]
    proc: subprocess.Popen[bytes]
    log: Path
    killed: bool = False  # stopped on purpose: its death is no failure

    @property
    def pgid(self) -> int:
        return self.proc.pid  # started in a session of its own: the group leader

    def text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except FileNotFoundError:
            return ""

    def alive(self) -> bool:
        return self.proc.poll() is None

    def wait_ready(self, timeout: float = 30) -> None:
        wait_for(
            lambda: "ready for action" in self.text(),
            timeout,
            f"worker {self.name} to boot",
            check=self._check_running,
        )

    def _check_running(self) -> None:
        if self.proc.poll() is not None:
            raise AssertionError(
                f"worker {self.name} exited with {self.proc.returncode}:\n{self.text()[-3000:]}"
            )

    def kill(self) -> None:
        """SIGKILL the whole process tree at once: master and worker processes."""
        self.killed = True
        _signal_group(self.pgid, signal.SIGKILL)
        self.proc.wait(10)

    def terminate(self) -> None:
        if self.alive():
            try:
                self.proc.send_signal(signal.SIGTERM)  # the master stops its workers
            except ProcessLookupError:
                pass

    def reap(self, timeout: float) -> None:
        """Wait for a clean stop, then SIGKILL whatever is left of the group."""
        try:
            self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            pass
        _signal_group(self.pgid, signal.SIGKILL)
        if self.proc.poll() is None:
            self.proc.wait(10)


def _signal_group(pgid: int, signum: int) -> None:
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


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
        cmd = [
            str(DRAMATIQ), "poller.actors",
            "--processes", str(processes), "--threads", str(threads),
            "--queues", *queues,
        ]  # fmt: skip
        with log.open("wb") as out:
            proc = subprocess.Popen(
                cmd,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: killpg takes the tree
            )
        worker = Worker(name, queues, proc, log)
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


def wait_for(
    condition: Callable[[], T],
    timeout: float,
    what: str,
    *,
    check: Callable[[], object] | None = None,
    every: float = 0.1,
) -> T:
    """Return `condition()` once it is truthy; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if check is not None:
            check()
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")
        time.sleep(every)


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
