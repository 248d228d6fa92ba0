"""One benchmark scenario's world: feed server, database, broker and workers.

Everything here is created fresh for a scenario and removed after it:

- the feed server runs in its own process (`python -m poller.bench.feedserver`)
  and is steered over HTTP (`POST /_bench/…`); its CPU time is read from
  /proc so the report can show it was not the bottleneck;
- the database is a SQLite file in a temporary directory, or a fresh schema
  in the PostgreSQL database named by ``--database-url``;
- the broker is RabbitMQ in a fresh vhost when TUBEPOLLER_BROKER_URL is set
  (workers are real ``dramatiq poller.actors`` processes), else the
  in-process StubBroker with an in-process Worker (the embedded mode).

This process sets the TUBEPOLLER_* variables *before* it imports
`poller.actors`, because the actors bind to the broker and database named by
the settings at import time.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
import uuid
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import Any

from .feedserver import channel_id, video_id

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def log(message: str) -> None:
    """Progress goes to stderr; stdout carries only the table and the JSON line."""
    print(f"bench: {message}", file=sys.stderr, flush=True)


# --- /proc helpers -----------------------------------------------------------


def cpu_seconds(pid: int) -> float:
    """Return user + system CPU seconds of a process (and its reaped children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # after the ")": state is field 3, utime 14, stime 15, cutime 16, cstime 17
    return sum(int(v) for v in fields[11:15]) / CLOCK_TICKS


def rss_mb(pid: int) -> float:
    """Return a process's resident set size in MB (VmRSS)."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def machine_busy() -> tuple[float, float]:
    """Return (busy, total) jiffies of all CPUs since boot, from /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = fields[3] + fields[4]  # idle + iowait
    return sum(fields) - idle, sum(fields)


def broker_pid() -> int | None:
    """Return the pid of a local RabbitMQ (beam.smp), if there is one."""
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                if (entry / "comm").read_text().strip() == "beam.smp":
                    return int(entry.name)
            except OSError:
                continue
    return None


def children(pid: int) -> list[int]:
    """Return the direct children of a process."""
    found: list[int] = []
    for task in Path(f"/proc/{pid}/task").iterdir():
        try:
            found += [int(p) for p in (task / "children").read_text().split()]
        except OSError:
            continue
    return found


def _cmdline(pid: int) -> str:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().replace(b"\0", b" ").decode()
    except OSError:
        return ""


# --- the feed server ---------------------------------------------------------


class FeedProcess:
    """The feed server in its own process, and its remote control."""

    def __init__(self, channels: int, uploads: int, latency: float, validators: bool) -> None:
        command = [
            sys.executable,
            "-m",
            "poller.bench.feedserver",
            "--channels",
            str(channels),
            "--uploads",
            str(uploads),
            "--latency",
            str(latency),
        ]
        if not validators:
            command.append("--no-validators")
        self.process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
        line = self.process.stdout.readline().strip() if self.process.stdout else ""
        if not line.startswith("http://"):
            self.process.kill()
            raise RuntimeError(f"the feed server did not start (said {line!r})")
        self.base = line
        self.pid = self.process.pid

    def control(self, command: str, body: bytes = b"", **query: Any) -> dict:
        url = f"{self.base}/_bench/{command}?{urllib.parse.urlencode(query)}"
        request = urllib.request.Request(url, data=body, method="POST")
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310 (loopback)
            return json.loads(response.read())

    def stats(self) -> dict:
        with urllib.request.urlopen(f"{self.base}/_bench/stats", timeout=30) as response:  # noqa: S310
            return json.loads(response.read())

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


# --- the broker --------------------------------------------------------------


class Rabbit:
    """A fresh RabbitMQ vhost for one scenario (rabbitmqctl), removed after.

    Without rabbitmqctl the URL's own vhost is used and the bench queues are
    purged first: do not point that at a vhost a live service uses.
    """

    QUEUES = ("poll", "poll.DQ", "poll.XQ", "downloads", "downloads.DQ", "downloads.XQ")

    def __init__(self, url: str) -> None:
        parts = urllib.parse.urlsplit(url)
        self.user = urllib.parse.unquote(parts.username or "guest")
        self.vhost: str | None = f"tubepoller-bench-{uuid.uuid4().hex[:8]}"
        try:
            self._ctl("add_vhost", self.vhost)
            self._ctl("set_permissions", "-p", self.vhost, self.user, ".*", ".*", ".*")
        except (OSError, subprocess.CalledProcessError) as exc:
            log(f"no fresh vhost ({exc}); purging the bench queues of {url} instead")
            self.vhost = None
            self.url = url
            self._purge()
            return
        path = "/" + urllib.parse.quote(self.vhost, safe="")
        self.url = urllib.parse.urlunsplit(parts._replace(path=path))

    @staticmethod
    def _ctl(*args: str) -> None:
        subprocess.run(["rabbitmqctl", *args], check=True, capture_output=True, timeout=60)

    def _purge(self) -> None:
        import pika

        connection = pika.BlockingConnection(pika.URLParameters(self.url))
        channel = connection.channel()
        for queue in (*self.QUEUES, "bench_noop", "bench_noop.DQ", "bench_noop.XQ"):
            try:
                channel.queue_purge(queue)
            except Exception:  # noqa: BLE001 (a queue that does not exist yet)
                channel = connection.channel()
        connection.close()

    def close(self) -> None:
        if self.vhost:
            try:
                self._ctl("delete_vhost", self.vhost)
            except (OSError, subprocess.CalledProcessError) as exc:
                log(f"could not delete vhost {self.vhost}: {exc}")


# --- workers -----------------------------------------------------------------


class Workers:
    """Poll workers: `dramatiq` processes on RabbitMQ, or an in-process Worker."""

    def __init__(self, world: World, processes: int, threads: int) -> None:
        self.world = world
        self.processes = processes
        self.threads = threads
        self.master: subprocess.Popen | None = None
        self.worker: Any = None
        queues = ["poll", "bench_noop"]
        if world.rabbit is None:
            from dramatiq import Worker

            self.worker = Worker(world.actors.broker, queues=set(queues), worker_threads=threads)
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
            *queues,
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
        if self.master is None:
            return ""
        return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])

    def pids(self) -> list[int]:
        """The processes that run actors (this one in the embedded mode)."""
        if self.master is None:
            return [os.getpid()]
        return [
            pid
            for pid in children(self.master.pid)
            if "resource_tracker" not in _cmdline(pid) and "fork" not in _cmdline(pid)
        ]

    def rss_mb(self) -> list[float]:
        return [rss_mb(pid) for pid in self.pids()]

    def cpu(self) -> float:
        """CPU seconds of the worker processes so far."""
        if self.master is None:
            return cpu_seconds(os.getpid())
        return sum(cpu_seconds(pid) for pid in [self.master.pid, *self.pids()])

    def stop(self) -> None:
        if self.worker is not None:
            self.worker.stop()
            return
        if self.master is not None:
            self.master.terminate()
            try:
                self.master.wait(30)
            except subprocess.TimeoutExpired:
                self.master.kill()
                self.master.wait()
            self._log.close()


# --- the scenario's world ----------------------------------------------------


class World:
    """Feed server + database + broker for one scenario; use as a context manager."""

    def __init__(
        self,
        *,
        channels: int,
        uploads: int = 3,
        latency: float = 0.0,
        validators: bool = False,
        database_url: str | None = None,
        broker_url: str | None = None,
    ) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="tubepoller-bench-"))
        self.channels = channels
        self.uploads = uploads
        self._pg_admin: str | None = None
        self._schema: str | None = None
        self.rabbit: Rabbit | None = None
        self.feeds: FeedProcess | None = None
        self.workers: Workers | None = None
        self._noop_socket: socket.socket | None = None
        self.profile_dir: Path | None = None  # py-spy the measured rounds' workers into here
        try:
            self.feeds = FeedProcess(channels, uploads, latency, validators)
            self.database_url = self._database(database_url)
            if broker_url:
                self.rabbit = Rabbit(broker_url)
            self._configure()
        except BaseException:
            self.close()
            raise

    # setup -------------------------------------------------------------------

    def _database(self, url: str | None) -> str:
        if not url or url.startswith("sqlite"):
            if url and url not in ("sqlite", "sqlite:"):
                log("--database-url sqlite…: using a fresh file in a temporary directory")
            return f"sqlite:///{self.tmp / 'bench.db'}"
        import psycopg2

        self._pg_admin = url.split("?", 1)[0]
        self._schema = "tpbench_" + uuid.uuid4().hex[:10]
        connection = psycopg2.connect(self._pg_admin.replace("+pool", ""))
        connection.autocommit = True
        connection.cursor().execute(f"CREATE SCHEMA {self._schema}")
        connection.close()
        return f"{self._pg_admin}?options=-csearch_path%3D{self._schema}"

    def env(self) -> dict[str, str]:
        values = {
            "TUBEPOLLER_DATA_DIR": str(self.tmp),
            "TUBEPOLLER_DATABASE_URL": self.database_url,
            "TUBEPOLLER_YOUTUBE_URL": self.feeds.base if self.feeds else "",
            "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "1",
            "TUBEPOLLER_BROKER_URL": self.rabbit.url if self.rabbit else "",
        }
        return values

    def child_env(self) -> dict[str, str]:
        env = {**os.environ, **self.env()}
        if self._noop_socket is not None:
            env["TUBEPOLLER_BENCH_NOOP_ADDR"] = "{}:{}".format(*self._noop_socket.getsockname())
        return env

    def _configure(self) -> None:
        if "poller.actors" in sys.modules:
            raise RuntimeError("a scenario runs in a process of its own (poller.actors loaded)")
        os.environ.update(self.env())
        self._noop_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._noop_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self._noop_socket.bind(("127.0.0.1", 0))
        os.environ["TUBEPOLLER_BENCH_NOOP_ADDR"] = "{}:{}".format(*self._noop_socket.getsockname())
        import logging

        from .. import config

        config.override(config.load())
        self.settings = config.get()
        # One line per poll is what production logs; here it would only flood
        # the terminal of the in-process worker.
        logging.getLogger("poller").setLevel(logging.WARNING)
        logging.getLogger("pika").setLevel(logging.WARNING)
        from .. import actors
        from ..database import init_schema
        from ..models import db
        from . import noop

        self.actors: ModuleType = actors
        self.noop: ModuleType = noop
        self.db = db
        init_schema()
        db.connect(reuse_if_open=True)

    # data --------------------------------------------------------------------

    def populate(self, count: int | None = None, *, subscribers: int = 1) -> list[int]:
        """Insert `count` already-cataloged channels that match the feed server's.

        Each has the server's first uploads stored, so its next poll finds
        nothing new unless the server gains an upload. Returns channel ids in
        feed-server order (row i is server channel i).
        """
        from peewee import chunked

        from ..models import FUTURE_ONLY, Channel, Subscription, User, Video
        from ..sources import youtube

        count = self.channels if count is None else count
        now = time.time()
        week_ago = now - 7 * 86400
        with self.db.atomic():
            users = []
            for n in range(subscribers):
                users.append(
                    User.insert(
                        name=f"bench{n}", token_hash=uuid.uuid4().hex, created_at=week_ago
                    ).execute()
                )
            rows = [
                {
                    "kind": "youtube",
                    "external_id": channel_id(n),
                    "feed_url": youtube.canonical_feed_url(channel_id(n)),
                    "created_at": week_ago,
                    "last_polled_at": now - 3600,
                    "next_poll_at": now + 86400,
                    "claimed_until": 0,
                    "interval_s": 3600,
                    "cataloged_at": now - 3600,
                    "upload_history": "[]",
                }
                for n in range(count)
            ]
            for chunk in chunked(rows, 500):
                Channel.insert_many(chunk).execute()
            ids = {
                external: pk
                for pk, external in Channel.select(Channel.id, Channel.external_id).tuples()
            }
            ordered = [ids[channel_id(n)] for n in range(count)]
            subs = [
                {"user": u, "channel": pk, "mode": FUTURE_ONLY, "created_at": week_ago}
                for u in users
                for pk in ordered
            ]
            for chunk in chunked(subs, 500):
                Subscription.insert_many(chunk).execute()
            videos = [
                {
                    "channel": pk,
                    "external_id": video_id(n, i),
                    "title": f"Upload {i}",
                    "url": f"{self.settings.youtube_url}/watch?v={video_id(n, i)}",
                    "published_at": week_ago,
                    "discovered_at": week_ago,
                    "updated_at": week_ago,
                }
                for n, pk in enumerate(ordered)
                for i in range(self.uploads)
            ]
            for chunk in chunked(videos, 500):
                Video.insert_many(chunk).execute()
        return ordered

    def make_due(self, ids: Sequence[int] | None = None) -> None:
        from ..models import Channel

        query = Channel.update(next_poll_at=time.time() - 1, claimed_until=0)
        if ids is not None:
            query = query.where(Channel.id.in_(list(ids)))
        query.execute()

    def finished_since(self, since: float, ids: Sequence[int] | None = None) -> tuple[int, int]:
        """Return (polled, failed) channels whose poll ended after `since`."""
        from ..models import Channel

        polled = Channel.select().where(Channel.last_polled_at >= since)
        failed = Channel.select().where(Channel.last_error_at >= since)
        if ids is not None:
            polled = polled.where(Channel.id.in_(list(ids)))
            failed = failed.where(Channel.id.in_(list(ids)))
        return polled.count(), failed.count()

    # runs ----------------------------------------------------------------------

    def start_workers(self, processes: int, threads: int) -> Workers:
        self.stop_workers()
        self.workers = Workers(self, processes, threads)
        return self.workers

    def stop_workers(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None

    def poll_round(
        self,
        ids: Sequence[int] | None = None,
        *,
        timeout: float = 600,
        interval: float = 0.05,
        profile: str = "",
    ) -> dict[str, float]:
        """Make channels due, fan them out with the real tick, wait for every poll.

        Returns the elapsed seconds, polls, failures, polls/s and the CPU
        seconds the feed server and the workers used meanwhile.
        """
        from ..tick import fan_out

        self.make_due(ids)
        spies = self._spy(profile) if profile else []
        feed_cpu, worker_cpu = self.feeds.cpu(), self.workers.cpu() if self.workers else 0.0
        rabbit = broker_pid() if self.rabbit else None
        rabbit_cpu = cpu_seconds(rabbit) if rabbit else 0.0
        busy, total = machine_busy()
        since = time.time()
        started = time.perf_counter()
        sent = fan_out(
            self.actors.poll_channel, time.time(), self.settings, due_only=True, channel_ids=ids
        )
        deadline = started + timeout
        polled = failed = 0
        while True:
            polled, failed = self.finished_since(since, ids)
            if polled + failed >= sent:
                break
            if time.perf_counter() > deadline:
                tail = self.workers.tail() if self.workers else ""
                raise RuntimeError(
                    f"only {polled + failed} of {sent} polls finished in {timeout:g} s\n{tail}"
                )
            time.sleep(interval)
        elapsed = time.perf_counter() - started
        busy_after, total_after = machine_busy()
        for spy in spies:
            spy.send_signal(2)
            spy.wait(30)
        return {
            "machine_busy": (busy_after - busy) / max(1, total_after - total),
            "broker_cpu": (cpu_seconds(rabbit) - rabbit_cpu) / elapsed if rabbit else 0.0,
            "seconds": elapsed,
            "polls": polled + failed,
            "failed": failed,
            "rate": (polled + failed) / elapsed,
            "feed_cpu": (self.feeds.cpu() - feed_cpu) / elapsed,
            "worker_cpu": ((self.workers.cpu() if self.workers else 0.0) - worker_cpu) / elapsed,
        }

    def _spy(self, name: str) -> list[subprocess.Popen]:
        """Start py-spy on every worker process; the round stops them (SIGINT)."""
        if self.profile_dir is None or self.workers is None:
            return []
        if shutil.which("py-spy") is None and not Path(sys.executable).with_name("py-spy").exists():
            log("--profile: py-spy is not installed (pip install py-spy)")
            return []
        spy = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        spies = []
        for pid in self.workers.pids():
            out = self.profile_dir / f"{name}-{pid}.txt"
            spies.append(
                subprocess.Popen(
                    [
                        spy,
                        "record",
                        "--nonblocking",
                        "-p",
                        str(pid),
                        "-f",
                        "raw",
                        "-r",
                        "200",
                        "-o",
                        str(out),
                    ],
                    stdout=subprocess.DEVNULL,
                    stderr=subprocess.DEVNULL,
                )
            )
        log(f"profiling {len(spies)} worker process(es) into {self.profile_dir}")
        time.sleep(0.5)
        return spies

    def noop_rate(self, messages: int, timeout: float = 300) -> dict[str, float]:
        """Send `messages` no-op messages through the poll workers' broker and time them."""
        assert self._noop_socket is not None
        received = 0
        done = threading.Event()
        sock = self._noop_socket
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
            self.noop.noop.send()
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

    # teardown ------------------------------------------------------------------

    def close(self) -> None:
        self.stop_workers()
        if self.feeds is not None:
            self.feeds.stop()
        try:
            from ..models import db

            if db.obj is not None and not db.is_closed():
                db.close()
            if hasattr(db.obj, "close_all"):
                db.obj.close_all()
        except Exception:  # noqa: BLE001 (teardown goes on)
            pass
        if self.rabbit is not None:
            self.rabbit.close()
        if self._schema and self._pg_admin:
            import psycopg2

            connection = psycopg2.connect(self._pg_admin.replace("+pool", ""))
            connection.autocommit = True
            connection.cursor().execute(f"DROP SCHEMA IF EXISTS {self._schema} CASCADE")
            connection.close()
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
