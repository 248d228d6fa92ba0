"""A fleet on one machine: worker hosts in network namespaces, reaching the services by veth.

Each host (see `netns.Host`) runs real processes under `ip netns exec`; a
`Forwarder` in the root namespace relays its root-side veth address to
RabbitMQ, PostgreSQL and the feed server on loopback. A host's broker URL
asks for a 5 s AMQP heartbeat, so a host cut off for longer is declared
dead by RabbitMQ and its unacknowledged messages go to the other hosts.
"""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from tests.faults.forward import Forwarder
from tests.faults.netns import FLEET_NET, Host, unavailable
from tests.support.cluster import Cluster, fail_or_skip, worker_env
from tests.support.feedserver import FeedServer
from tests.support.procs import DRAMATIQ, ROOT, Worker

HEARTBEAT_S = 5
SERVICES = {"amqp": ("127.0.0.1", 5672), "postgres": ("127.0.0.1", 5432)}

# The scheduler host: the tick every `every` seconds, as periodiq's cron would
# (faster, so a test does not wait for the minute); a failed tick is retried
# by the next one, as a supervisor restarting periodiq would.
SCHEDULER = """
import sys, time, logging
logging.basicConfig(level=logging.INFO, format="[%(asctime)s] [%(levelname)s] %(message)s")
from poller import actors, config
from poller.database import open_database
open_database(config.get().database_url)  # a worker opens it at boot; this is no worker
print("[scheduler] ready for action", flush=True)
while True:
    try:
        actors.tick()
    except Exception as exc:
        logging.warning("tick failed: %r", exc)
    time.sleep(float(sys.argv[1]))
"""


@dataclass
class Fleet:
    """The hosts of one test, their forwarded ports, and how to start processes on them."""

    cluster: Cluster
    feeds: FeedServer
    database_url: str
    tmp: Path
    forwarder: Forwarder
    hosts: dict[str, Host] = field(default_factory=dict)
    ports: dict[str, dict[str, int]] = field(default_factory=dict)  # host → service → port
    lease: float = 10.0  # the claim lease of every process started after it is set
    rss_timeout: float = 60.0  # above any cut: a fetch stalled by a cut finishes late

    def add_host(self, name: str, tag: str) -> Host:
        """Make a host and its forwarded ports; `remove_hosts` undoes it."""
        host = Host.create(tag, len(self.hosts) + 1)
        self.hosts[name] = host  # before anything else can fail: the teardown removes it
        targets = {**SERVICES, "feeds": self.feeds.server_address[:2]}
        self.ports[name] = {
            service: self.forwarder.listen(host.root_addr, target)
            for service, target in targets.items()
        }
        return host

    def env(self, name: str) -> dict[str, str]:
        """A worker environment whose every service address is across the host's veth."""
        host, ports = self.hosts[name], self.ports[name]
        via = f"{host.root_addr}:{ports['postgres']}"
        return worker_env(
            broker_url=(
                f"amqp://guest:guest@{host.root_addr}:{ports['amqp']}/{self.cluster.vhost.name}"
                f"?heartbeat={HEARTBEAT_S}"
            ),
            database_url=self.database_url.replace("127.0.0.1:5432", via, 1),
            youtube_url=f"http://{host.root_addr}:{ports['feeds']}",
            data_dir=self.tmp / f"host-{name}",
            extra={
                "TUBEPOLLER_CLAIM_LEASE": str(self.lease),
                "TUBEPOLLER_RSS_TIMEOUT": str(self.rss_timeout),
                "NONET_ALLOW": str(FLEET_NET),  # the network guard lets the hosts use it
            },
        )

    def _start(self, name: str, label: str, argv: list[str]) -> Worker:
        log = self.cluster.logs / f"{label}-{name}.log"
        with log.open("wb") as out:
            proc = subprocess.Popen(
                [*self.hosts[name].prefix(), *argv], cwd=ROOT, env=self.env(name),
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                start_new_session=True,
            )  # fmt: skip
        worker = Worker(f"{label}@{name}", ("poll",), proc, log)
        self.cluster.workers.append(worker)
        worker.wait_ready()
        return worker

    def start_worker(self, name: str, *, processes: int = 1, threads: int = 4) -> Worker:
        """Run `dramatiq poller.actors --queues poll` on host `name`."""
        return self._start(name, "poll", [
            str(DRAMATIQ), "poller.actors", "--processes", str(processes),
            "--threads", str(threads), "--queues", "poll",
        ])  # fmt: skip

    def start_scheduler(self, name: str, every: float = 2.0) -> Worker:
        """Run the tick every `every` seconds on host `name`."""
        return self._start(name, "scheduler", [sys.executable, "-c", SCHEDULER, str(every)])


@pytest.fixture
def fleet(
    cluster: Cluster, feeds: FeedServer, database_url: str, tmp_path: Path
) -> Iterator[Fleet]:
    """A scheduler host `s` and two poll-worker hosts `a` and `b`, torn down whatever happens."""
    reason = unavailable()
    if reason:
        fail_or_skip(f"the fleet tests need network namespaces: {reason}")
    tag = uuid.uuid4().hex[:6]
    with ExitStack() as stack:
        forwarder = Forwarder()
        stack.callback(forwarder.close)
        running = Fleet(cluster, feeds, database_url, tmp_path, forwarder)
        stack.callback(_remove_hosts, running)
        # Runs before the hosts go: kill every process on them first.
        stack.callback(_kill_all, running)
        for name in ("s", "a", "b"):
            running.add_host(name, tag)
        yield running


def _kill_all(fleet: Fleet) -> None:
    for worker in fleet.cluster.workers:
        if worker.alive():
            worker.kill()


def _remove_hosts(fleet: Fleet) -> None:
    for host in fleet.hosts.values():
        host.remove()


def wait_quiet(worker: Worker, fragment: str, quiet: float, timeout: float) -> int:
    """Wait until `worker` has logged no new `fragment` for `quiet` seconds; return the count."""
    deadline = time.monotonic() + timeout
    count, since = worker.text().count(fragment), time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.5)
        now_count = worker.text().count(fragment)
        if now_count != count:
            count, since = now_count, time.monotonic()
        elif time.monotonic() - since >= quiet:
            return count
    raise AssertionError(f"{worker.name} kept logging {fragment!r} for {timeout:g} s")
