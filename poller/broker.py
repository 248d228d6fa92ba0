"""Build the process's broker before any actor is declared, and check it.

`@dramatiq.actor` binds to the global broker at decoration time, so
`poller.actors` calls `build_broker` first. RabbitMQ when
TUBEPOLLER_BROKER_URL is set; otherwise the in-process broker of the
embedded mode (`tubepoller up`) and of the tests. Building a broker connects
nothing: RabbitMQ is reached on the first send or consume.
"""

from __future__ import annotations

import copy
from typing import Any

import dramatiq
import pika
from dramatiq.brokers.rabbitmq import RabbitmqBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import CurrentMessage
from periodiq import PeriodiqMiddleware

from .config import Settings
from .database import one_line
from .middleware import DatabaseConnection, WorkerSettings

POLL_QUEUE = "poll"
DOWNLOAD_QUEUE = "downloads"
CHECK_TIMEOUT_S = 2.0  # a health check must answer quickly even when a host drops packets
# The tick's own small queue, consumed by the poll workers: on a shared queue
# it would wait behind the whole poll backlog (RabbitMQ queues are FIFO, and
# arguments like x-max-priority cannot be added to an existing queue).
TICK_QUEUE = "tick"
TICK_ACTOR = "tick"
# Notifications have their own queue: a slow or failing target never waits
# behind (nor delays) polls and downloads.
NOTIFY_QUEUE = "notify"
QUEUES = (POLL_QUEUE, TICK_QUEUE, DOWNLOAD_QUEUE, NOTIFY_QUEUE)


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
    broker.add_middleware(WorkerSettings())
    broker.add_middleware(DatabaseConnection())
    dramatiq.set_broker(broker)
    return broker


def tick_message(*, due_only: bool) -> dramatiq.Message:
    """Return the message `actors.tick.send(due_only=…)` sends, without the actors.

    `tubepoller poll --all` only sends this one message; importing
    `poller.actors` for it (every stage, yt-dlp's wrappers, httpcore) would
    cost the command more CPU than hundreds of the polls it starts.
    """
    return dramatiq.Message(
        queue_name=TICK_QUEUE,
        actor_name=TICK_ACTOR,
        args=(),
        kwargs={"due_only": due_only},
        options={},
    )


def broker_state(broker: dramatiq.Broker, timeout: float = CHECK_TIMEOUT_S) -> str:
    """Return "ok", "ok (in-process)" or "error: …".

    For RabbitMQ, open and close a connection with the broker's own parameters
    but short timeouts and a single attempt.
    """
    if isinstance(broker, StubBroker):
        return "ok (in-process)"
    parameters = getattr(broker, "parameters", None)
    if parameters is None:
        return "ok"
    candidates = parameters if isinstance(parameters, list) else [parameters]
    try:
        pika.BlockingConnection([_quick(p, timeout) for p in candidates]).close()
    except Exception as exc:  # pika raises many kinds; all mean "unreachable"
        return f"error: {one_line(exc) or type(exc).__name__}"
    return "ok"


def queue_depths(broker: dramatiq.Broker, timeout: float = CHECK_TIMEOUT_S) -> dict[str, int]:
    """Return the messages Ready in each work queue and its delay and dead-letter queues.

    Messages a worker holds (Unacked, which includes every delayed retry) are
    not counted: this is the backlog. A queue that does not exist yet, or a
    broker that cannot be reached, is left out.
    """
    names = [f"{q}{suffix}" for q in QUEUES for suffix in ("", ".DQ", ".XQ")]
    if isinstance(broker, StubBroker):
        return {name: broker.queues[name].qsize() for name in names if name in broker.queues}
    parameters = getattr(broker, "parameters", None)
    if parameters is None:
        return {}
    candidates = parameters if isinstance(parameters, list) else [parameters]
    depths: dict[str, int] = {}
    try:
        connection = pika.BlockingConnection([_quick(p, timeout) for p in candidates])
    except Exception:  # unreachable: the health check says so
        return depths
    try:
        for name in names:
            channel = connection.channel()
            try:
                declared = channel.queue_declare(queue=name, passive=True)
            except pika.exceptions.ChannelClosedByBroker:  # not declared yet
                continue
            depths[name] = declared.method.message_count
            channel.close()
    finally:
        connection.close()
    return depths


def _quick(parameters: Any, timeout: float) -> Any:
    quick = copy.deepcopy(parameters)
    quick.socket_timeout = timeout
    quick.stack_timeout = timeout * 2
    quick.blocked_connection_timeout = timeout
    quick.connection_attempts = 1
    return quick
