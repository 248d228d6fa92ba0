"""A fresh RabbitMQ vhost for one scenario."""

from __future__ import annotations

import subprocess

from tests.support.rabbit import ALL_QUEUES, Vhost, purge

from .report import log


class Rabbit:
    """A fresh RabbitMQ vhost for one scenario (rabbitmqctl), removed after.

    Without rabbitmqctl the URL's own vhost is used and the bench queues are
    purged first: do not point that at a vhost a live service uses.
    """

    def __init__(self, url: str) -> None:
        self.vhost: Vhost | None = None
        try:
            self.vhost = Vhost.create(url, prefix="tubepoller-bench-", digits=8)
        except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
            log(f"no fresh vhost ({exc}); purging the bench queues of {url} instead")
            self.url = url
            purge(url, (*ALL_QUEUES, "bench_noop", "bench_noop.DQ", "bench_noop.XQ"))
            return
        self.url = self.vhost.url

    def close(self) -> None:
        if self.vhost:
            try:
                self.vhost.delete()
            except (OSError, RuntimeError, subprocess.TimeoutExpired) as exc:
                log(f"could not delete vhost {self.vhost.name}: {exc}")
