"""/api/health: can we reach the database and the broker?"""

from __future__ import annotations

import copy
from typing import Any

import dramatiq
import falcon
import pika
from dramatiq.brokers.stub import StubBroker

from poller.models import User, db

TIMEOUT_S = 2.0  # a health check must answer quickly even when a host drops packets


def database_state() -> str:
    """Return "ok", or "error: …" when the database or its schema is unusable."""
    try:
        db.connect(reuse_if_open=True)
        User.select(User.id).limit(1).execute()  # the schema too, not only the server
    except Exception as exc:  # a health check reports every failure; it never raises
        return f"error: {_one_line(exc)}"
    return "ok"


def broker_state(broker: dramatiq.Broker, timeout: float = TIMEOUT_S) -> str:
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
        return f"error: {_one_line(exc) or type(exc).__name__}"
    return "ok"


def _quick(parameters: Any, timeout: float) -> Any:
    quick = copy.deepcopy(parameters)
    quick.socket_timeout = timeout
    quick.stack_timeout = timeout * 2
    quick.blocked_connection_timeout = timeout
    quick.connection_attempts = 1
    return quick


def _one_line(exc: Exception) -> str:
    text = str(exc).strip() or repr(exc)
    return text.splitlines()[0][:300]


class Health:
    """The state of the database and the broker: 200 when both answer, else 503."""

    public = True  # load balancers and compose health checks carry no token
    uses_database = False  # it reports a database failure instead of failing with it

    def __init__(self, broker: dramatiq.Broker) -> None:
        self.broker = broker

    def on_get(self, req: falcon.Request, resp: falcon.Response) -> None:
        state = {"database": database_state(), "broker": broker_state(self.broker)}
        healthy = all(value.startswith("ok") for value in state.values())
        resp.status = falcon.HTTP_200 if healthy else falcon.HTTP_503
        resp.cache_control = ["no-store"]
        resp.media = state
