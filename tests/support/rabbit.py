"""RabbitMQ for the tests and the benchmark: a vhost of their own, a sender of messages.

The test process never imports `poller.actors` with a RabbitMQ URL (its broker
is built once per process, and the in-process tests need the StubBroker).
Messages go to RabbitMQ through the small broker built here.
"""

from __future__ import annotations

import subprocess
import urllib.parse
import uuid
from dataclasses import dataclass
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker

LOCAL = "amqp://guest:guest@127.0.0.1:5672/"
QUEUES = ("poll", "tick", "downloads", "notify")
ALL_QUEUES = tuple(f"{q}{suffix}" for q in QUEUES for suffix in ("", ".DQ", ".XQ"))


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
    """A RabbitMQ vhost of its own: a queue namespace nobody else uses.

    Attributes:
        name: the vhost.
        server: an amqp:// URL naming the server and credentials (its path,
            the vhost it names, is replaced by `name`).
    """

    name: str
    server: str = LOCAL

    @property
    def url(self) -> str:
        parts = urllib.parse.urlsplit(self.server)
        path = "/" + urllib.parse.quote(self.name, safe="")
        return urllib.parse.urlunsplit(parts._replace(path=path))

    @classmethod
    def create(cls, server: str = LOCAL, prefix: str = "tp_", digits: int = 12) -> Vhost:
        """Add a fresh vhost the URL's user may use fully.

        Raises:
            RuntimeError, OSError, subprocess.TimeoutExpired: rabbitmqctl failed
                or is missing.
        """
        vhost = cls(prefix + uuid.uuid4().hex[:digits], server)
        user = urllib.parse.unquote(urllib.parse.urlsplit(server).username or "guest")
        rabbitmqctl("add_vhost", vhost.name)
        rabbitmqctl("set_permissions", "-p", vhost.name, user, ".*", ".*", ".*")
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


def purge(url: str, queues: tuple[str, ...]) -> None:
    """Empty these queues of the vhost `url` names (a queue not declared yet is fine)."""
    connection = pika.BlockingConnection(pika.URLParameters(url))
    channel = connection.channel()
    for queue in queues:
        try:
            channel.queue_purge(queue)
        except Exception:  # noqa: BLE001 (a queue that does not exist yet)
            channel = connection.channel()
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
