"""`tubepoller up`: scheduler, workers and API in one process.

This is the embedded default: SQLite under the data dir and Dramatiq's
in-process broker, so one command runs the whole service. periodiq needs
the main thread's SIGALRM and a broker it can reach from another process,
so here a small timer thread sends the same tick every minute instead.
With TUBEPOLLER_BROKER_URL set the same process talks to RabbitMQ.
"""

from __future__ import annotations

import importlib
import logging
import signal
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .config import Settings

log = logging.getLogger(__name__)

# The API, named as gunicorn names it: poller/ never imports api/.
API_FACTORY = "api.app:create_app"
TICK_EVERY = 60.0
POLL_THREADS = 8
DOWNLOAD_THREADS = 2


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _QuietHandler(WSGIRequestHandler):
    # A thread per connection, so a stalled client blocks only its own; the
    # socket timeout ends a half-sent request instead of keeping it forever.
    timeout = 20

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        log.debug("api: " + format, *args)


def run(settings: Settings, *, api: bool = True) -> int:
    """Run until Ctrl-C or SIGTERM; return the exit code."""
    from dramatiq import Worker

    from . import actors
    from .broker import DOWNLOAD_QUEUE, POLL_QUEUE, TICK_QUEUE
    from .database import init_schema, open_database

    settings.media_dir.mkdir(parents=True, exist_ok=True)
    # Opened before the workers boot, which then keep it (WorkerSettings).
    open_database(settings.database_url)
    init_schema()
    # Two workers (polls never wait behind downloads) each add their own
    # middleware to the one broker, which Dramatiq warns about needlessly.
    logging.getLogger(f"dramatiq.broker.{type(actors.broker).__name__}").addFilter(
        lambda record: "adding a middleware of the same type twice" not in record.getMessage()
    )
    workers = [
        Worker(actors.broker, queues={POLL_QUEUE, TICK_QUEUE}, worker_threads=POLL_THREADS),
        Worker(actors.broker, queues={DOWNLOAD_QUEUE}, worker_threads=DOWNLOAD_THREADS),
    ]
    for worker in workers:
        worker.start()
    stop = threading.Event()
    timer = threading.Thread(target=_tick_every_minute, args=(actors.tick, stop), daemon=True)
    timer.start()
    server = _serve_api(settings) if api else None
    # Both stop cleanly, even when started from a shell that ignores SIGINT.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    mode = "in-process broker" if settings.embedded_broker else "RabbitMQ"
    log.info(
        "tubepoller up: database %s, %s%s; Ctrl-C stops",
        settings.database_url,
        mode,
        f", API on http://{_address(server)}/api" if server else "",
    )
    while not stop.wait(1.0):
        pass
    log.info("stopping: finishing the messages in hand")
    stop.set()
    if server is not None:
        server.shutdown()
    for worker in workers:
        worker.stop()
    return 0


def _address(server: WSGIServer) -> str:
    """Return host:port the API listens on (the real port when bound to 0)."""
    host, port = server.server_address[:2]
    return f"{host!s}:{port}"


def _tick_every_minute(tick: Any, stop: threading.Event) -> None:
    """Send a tick now and at the start of every minute, like `cron * * * * *`."""
    while not stop.is_set():
        try:
            tick.send()
        except Exception:  # a broker outage must not end the timer
            log.exception("tick: could not send; trying again next minute")
        stop.wait(TICK_EVERY - time.time() % TICK_EVERY)


def load_factory(name: str) -> Any:
    """Return the callable a "module:attribute" name points to, as gunicorn reads it."""
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _serve_api(settings: Settings) -> _ThreadingWSGIServer:
    host, _, port = settings.api_bind.rpartition(":")
    server = make_server(
        host or "127.0.0.1",
        int(port),
        load_factory(API_FACTORY)(settings),
        server_class=_ThreadingWSGIServer,
        handler_class=_QuietHandler,
    )
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server  # type: ignore[return-value]


def poll_all(settings: Settings, *, due_only: bool) -> int:
    """Poll every channel (or every due one) through the scheduler's claim.

    With RabbitMQ the claim and fan-out run as a tick message on the tick
    queue, which the poll workers consume. Without a broker there is no
    worker to send to, so the claimed channels are polled here, a few at a
    time, and this returns when done.
    """
    from .database import open_database

    if not settings.embedded_broker:
        from . import actors

        actors.tick.send(due_only=due_only)
        return -1
    from . import pipeline
    from .claim import claim
    from .models import db

    open_database(settings.database_url)

    def poll(channel_id: int) -> pipeline.PollResult:
        with db.connection_context():
            result = pipeline.poll_channel(channel_id, time.time(), settings)
        print(f"channel {channel_id}: {result.describe()}")
        return result

    with db.connection_context():
        ids = claim(time.time(), settings.claim_lease, due_only=due_only, limit=1_000_000)
    with ThreadPoolExecutor(POLL_THREADS) as pool:
        return len(list(pool.map(poll, ids)))
