"""One benchmark scenario's world: feed server, database, broker and workers.

Everything here is created fresh for a scenario and removed after it:

- the feed server runs in its own process (`feedprocess.FeedProcess`);
- the database is a SQLite file in a temporary directory, or a fresh schema
  in the PostgreSQL database named by ``--database-url`` (the workers then
  connect under an application name of their own, so a round can read the
  CPU of the server processes that serve them: `database_cpu`);
- the broker is RabbitMQ in a fresh vhost when TUBEPOLLER_BROKER_URL is set
  (workers are real ``dramatiq poller.actors`` processes), else the
  in-process StubBroker with an in-process Worker (the embedded mode).

This process sets the TUBEPOLLER_* variables *before* it imports
`poller.actors`, because the actors bind to the broker and database named by
the settings at import time.
"""

from __future__ import annotations

import argparse
import os
import shutil
import socket
import sys
import tempfile
import uuid
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Any

from tests.support import pgschema

from .feedprocess import FeedProcess
from .report import log
from .workers import QUEUES, Workers

if TYPE_CHECKING:
    from .rabbit import Rabbit


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
        # First: nothing is left to clean up when the feed server fails to start.
        self.feeds = FeedProcess(channels, uploads, latency, validators)
        self.tmp = Path(tempfile.mkdtemp(prefix="tubepoller-bench-"))
        self.channels = channels
        self.uploads = uploads
        self._pg_admin: str | None = None
        self._schema: str | None = None
        # PGAPPNAME of the worker processes (PostgreSQL only); `fleet` sets
        # one for the whole scenario beforehand, and that one is kept.
        self.worker_app = os.environ.get("PGAPPNAME") or f"tpbench-{uuid.uuid4().hex[:8]}-w"
        self.rabbit: Rabbit | None = None
        self.workers: Workers | None = None
        self.noop_socket: socket.socket | None = None
        self.profile_dir: Path | None = None  # py-spy the measured rounds' workers into here
        try:
            self.database_url = self._database(database_url)
            if broker_url:
                from .rabbit import Rabbit  # pika and the RabbitMQ broker only when used

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
        self._pg_admin = url.split("?", 1)[0]
        database_url, self._schema = pgschema.create_schema(self._pg_admin, "tpbench_")
        return database_url

    def env(self) -> dict[str, str]:
        """The TUBEPOLLER_* settings that point the pipeline at this world."""
        return {
            "TUBEPOLLER_DATA_DIR": str(self.tmp),
            "TUBEPOLLER_DATABASE_URL": self.database_url,
            "TUBEPOLLER_YOUTUBE_URL": self.feeds.base,
            "TUBEPOLLER_ALLOW_PRIVATE_NETWORKS": "1",
            # The benchmark measures the poller, not the host budget of 2/s.
            "TUBEPOLLER_HOST_RATE": "1000",
            "TUBEPOLLER_BROKER_URL": self.rabbit.url if self.rabbit else "",
        }

    def _noop_address(self) -> dict[str, str]:
        if self.noop_socket is None:
            return {}
        return {"TUBEPOLLER_BENCH_NOOP_ADDR": "{}:{}".format(*self.noop_socket.getsockname())}

    def child_env(self) -> dict[str, str]:
        """The environment of a worker process: this one's plus the world's."""
        app = {"PGAPPNAME": self.worker_app} if self._pg_admin else {}
        return {**os.environ, **self.env(), **self._noop_address(), **app}

    def database_cpu(self) -> dict[int, float]:
        """CPU seconds so far of each PostgreSQL backend serving the worker processes.

        Empty on SQLite, whose work is the workers' own CPU. PostgreSQL's is
        spent in its server processes, read from /proc (the server is local).
        """
        if not self._pg_admin:
            return {}
        import psycopg2

        from tests.support import procs

        admin = self._pg_admin.replace("+pool", "")
        connection = psycopg2.connect(admin, application_name="tpbench-sampler")
        try:
            with connection.cursor() as cursor:
                cursor.execute(
                    "SELECT pid FROM pg_stat_activity WHERE application_name = %s",
                    (self.worker_app,),
                )
                pids = [pid for (pid,) in cursor.fetchall()]
        finally:
            connection.close()
        seconds = {}
        for pid in pids:
            try:
                seconds[pid] = procs.cpu_seconds(pid)
            except OSError:  # ended meanwhile
                continue
        return seconds

    def _configure(self) -> None:
        if "poller.actors" in sys.modules:
            raise RuntimeError("a scenario runs in a process of its own (poller.actors loaded)")
        os.environ.update(self.env())
        self.noop_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.noop_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
        self.noop_socket.bind(("127.0.0.1", 0))
        os.environ.update(self._noop_address())
        import logging

        from poller import config

        config.override(config.load())
        self.settings = config.get()
        # One line per poll is what production logs; here it would only flood
        # the terminal of the in-process worker.
        logging.getLogger("poller").setLevel(logging.WARNING)
        logging.getLogger("pika").setLevel(logging.WARNING)
        from poller import actors
        from poller.database import init_schema, open_database
        from poller.models import db

        from . import noop

        self.actors: ModuleType = actors
        self.noop: ModuleType = noop
        open_database(self.settings.database_url)
        init_schema()
        db.connect(reuse_if_open=True)

    # workers -------------------------------------------------------------------

    def start_workers(
        self, processes: int, threads: int, queues: tuple[str, ...] = QUEUES
    ) -> Workers:
        """Replace the running workers (if any) with fresh ones consuming `queues`."""
        self.stop_workers()
        if self.rabbit is None:
            self.workers = Workers(processes, threads, broker=self.actors.broker, queues=queues)
        else:
            self.workers = Workers(
                processes, threads, env=self.child_env(), log_dir=self.tmp, queues=queues
            )
        return self.workers

    def stop_workers(self) -> None:
        if self.workers is not None:
            self.workers.stop()
            self.workers = None

    # teardown ------------------------------------------------------------------

    def close(self) -> None:
        self.stop_workers()
        self.feeds.stop()
        try:
            from poller.models import db

            if db.obj is not None and not db.is_closed():
                db.close()
            if hasattr(db.obj, "close_all"):
                db.obj.close_all()
        except Exception:  # noqa: BLE001 (teardown goes on)
            pass
        if self.rabbit is not None:
            self.rabbit.close()
        if self._schema and self._pg_admin:
            pgschema.drop_schema(self._pg_admin, self._schema)
        shutil.rmtree(self.tmp, ignore_errors=True)

    def __enter__(self) -> World:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_world(args: argparse.Namespace, **kwargs: Any) -> World:
    """Build a scenario's world with the command line's database, broker and profile."""
    world = World(
        database_url=args.database_url,
        broker_url=os.environ.get("TUBEPOLLER_BROKER_URL") or None,
        **kwargs,
    )
    if args.profile:
        world.profile_dir = Path(args.profile)
    return world
