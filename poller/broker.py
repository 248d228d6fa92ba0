"""Build the process's broker before any actor is declared.

`@dramatiq.actor` binds to the global broker at decoration time, so
`poller.actors` imports this module first. RabbitMQ when
TUBEPOLLER_BROKER_URL is set; otherwise the in-process broker of the
embedded mode (`tubepoller up`) and of the tests.
"""

from __future__ import annotations

import dramatiq
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from periodiq import PeriodiqMiddleware

from .config import Settings
from .middleware import DatabaseConnection

POLL_QUEUE = "poll"
DOWNLOAD_QUEUE = "downloads"
# The tick's own small queue, consumed by the poll workers: on a shared queue
# it would wait behind the whole poll backlog (RabbitMQ queues are FIFO, and
# arguments like x-max-priority cannot be added to an existing queue).
TICK_QUEUE = "tick"


def build_broker(settings: Settings) -> dramatiq.Broker:
    """Return a broker with tubepoller's middleware, set as the global one."""
    broker: dramatiq.Broker
    if settings.broker_url:
        # No publisher confirms: they cost ~0.5 ms a send (a 20,000-channel
        # tick would take 12 s), and a lost poll message loses nothing: the
        # channel's claim runs out and the next tick claims it again.
        broker = RabbitmqBroker(url=settings.broker_url, confirm_delivery=False)
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")  # so TimeLimit runs in-process too
    # periodiq's middleware must be there before the periodic actor is declared.
    broker.add_middleware(PeriodiqMiddleware(skip_delay=30))
    broker.add_middleware(CurrentMessage())
    broker.add_middleware(DatabaseConnection())
    dramatiq.set_broker(broker)
    return broker
