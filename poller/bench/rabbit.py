"""A fresh RabbitMQ vhost for one scenario."""

from __future__ import annotations

import subprocess
import urllib.parse
import uuid

from .report import log


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
