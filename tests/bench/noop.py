"""A no-op actor: the ceiling of messages a poll worker can take per second.

It runs through the same broker, worker and middleware as `poll_channel`
(including the per-message database connection), does nothing, and tells the
benchmark it ran with one UDP datagram to TUBEPOLLER_BENCH_NOOP_ADDR.
Workers load it beside the real actors:
``dramatiq poller.actors tests.bench.noop --queues poll bench_noop``.
"""

from __future__ import annotations

import os
import socket

import dramatiq

from poller import actors  # noqa: F401 (binds the broker before the actor is declared)

NOOP_QUEUE = "bench_noop"

_address = os.environ.get("TUBEPOLLER_BENCH_NOOP_ADDR", "")
_target = (_address.rsplit(":", 1)[0], int(_address.rsplit(":", 1)[1])) if _address else None
_socket = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)


@dramatiq.actor(queue_name=NOOP_QUEUE, max_retries=0)
def noop() -> None:
    """Do nothing; report it."""
    if _target is not None:
        _socket.sendto(b".", _target)
