"""`tubepoller up`: scheduler, workers and API in one process.

This is the embedded default: SQLite under the data dir and Dramatiq's
in-process broker, so one command runs the whole service. periodiq needs
the main thread's SIGALRM and a broker it can reach from another process,
so here a small timer thread sends the same tick every minute instead.
With TUBEPOLLER_BROKER_URL set the same process talks to RabbitMQ.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import signal
import socket
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from socketserver import ThreadingMixIn
from typing import TYPE_CHECKING, Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

from .config import Settings, redact, split_host_port
from .errors import TubepollerError

if TYPE_CHECKING:
    from .pipeline import PollResult

log = logging.getLogger(__name__)

# The API, named as gunicorn names it: poller/ never imports api/.
API_FACTORY = "api.app:create_app"
TICK_EVERY = 60.0
POLL_THREADS = 8
DOWNLOAD_THREADS = 2
NOTIFY_THREADS = 4  # a target that hangs holds one thread, not the other targets


class _ThreadingWSGIServer(ThreadingMixIn, WSGIServer):
    daemon_threads = True


class _ThreadingWSGIServer6(_ThreadingWSGIServer):
    address_family = socket.AF_INET6


class _QuietHandler(WSGIRequestHandler):
    # A thread per connection, so a stalled client blocks only its own; the
    # socket timeout ends a half-sent request instead of keeping it forever.
    timeout = 20

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        log.debug("api: " + format, *args)


def run(settings: Settings, *, api: bool = True, tick_every: float = TICK_EVERY) -> int:
    """Run until Ctrl-C or SIGTERM; return the exit code.

    Raises:
        TubepollerError: the media directory or the API address is unusable.
    """
    from dramatiq import Worker

    from . import actors
    from .broker import DOWNLOAD_QUEUE, NOTIFY_QUEUE, POLL_QUEUE, TICK_QUEUE
    from .database import init_schema, open_database
    from .host_links import backfill
    from .models import db

    check_media_dir(settings)
    # Opened before the workers boot, which then keep it (WorkerSettings).
    open_database(settings.database_url)
    init_schema()
    with db.connection_context():
        backfill(settings, time.time())
    # Bound before anything starts, so a busy port is one error and no half-started service.
    server = _serve_api(settings) if api else None
    # Three workers (polls never wait behind downloads or notifications) each add their own
    # middleware to the one broker, which Dramatiq warns about needlessly.
    logging.getLogger(f"dramatiq.broker.{type(actors.broker).__name__}").addFilter(
        lambda record: "adding a middleware of the same type twice" not in record.getMessage()
    )
    workers = [
        Worker(actors.broker, queues={POLL_QUEUE, TICK_QUEUE}, worker_threads=POLL_THREADS),
        Worker(actors.broker, queues={DOWNLOAD_QUEUE}, worker_threads=DOWNLOAD_THREADS),
        Worker(actors.broker, queues={NOTIFY_QUEUE}, worker_threads=NOTIFY_THREADS),
    ]
    for worker in workers:
        worker.start()
    stop = threading.Event()
    timer = threading.Thread(target=_tick_every, args=(actors.tick, stop, tick_every), daemon=True)
    timer.start()
    # Both stop cleanly, even when started from a shell that ignores SIGINT.
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    mode = "in-process broker" if settings.embedded_broker else "RabbitMQ"
    log.info(
        "tubepoller up: database %s, %s%s; Ctrl-C stops",
        redact(settings.database_url),
        mode if settings.embedded_broker else f"{mode} at {redact(settings.broker_url)}",
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


def check_media_dir(settings: Settings) -> None:
    """Create the media directory if need be and check that downloads can be written there.

    Raises:
        TubepollerError: it cannot be created or written to.
    """
    where = f"TUBEPOLLER_MEDIA_DIR {str(settings.media_dir)!r}"
    if settings.media_dir.exists() and not settings.media_dir.is_dir():
        raise TubepollerError(f"{where}: not a directory")
    try:
        settings.media_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise TubepollerError(f"{where}: cannot create it: {exc.strerror}") from None
    if not os.access(settings.media_dir, os.W_OK | os.X_OK):
        raise TubepollerError(f"{where}: not writable by this user")


def _address(server: WSGIServer) -> str:
    """Return host:port the API listens on (the real port when bound to 0)."""
    host, port = server.server_address[:2]
    host = str(host)
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


def _tick_every(tick: Any, stop: threading.Event, every: float) -> None:
    """Send a tick now and at the start of every period (60 s: like `cron * * * * *`)."""
    while not stop.is_set():
        try:
            tick.send()
        except Exception:  # a broker outage must not end the timer
            log.exception("tick: could not send; trying again at the next one")
        stop.wait(every - time.time() % every)


def load_factory(name: str) -> Any:
    """Return the callable a "module:attribute" name points to, as gunicorn reads it."""
    module, _, attribute = name.partition(":")
    return getattr(importlib.import_module(module), attribute)


def _serve_api(settings: Settings) -> _ThreadingWSGIServer:
    host, port = split_host_port(settings.api_bind)
    app = load_factory(API_FACTORY)(settings)
    try:
        server = make_server(
            host,
            port,
            app,
            server_class=_ThreadingWSGIServer6 if ":" in host else _ThreadingWSGIServer,
            handler_class=_QuietHandler,
        )
    except OSError as exc:
        reason = "the port is in use" if exc.errno == errno.EADDRINUSE else exc.strerror
        raise TubepollerError(
            f"cannot serve the API on {settings.api_bind} (TUBEPOLLER_API_BIND): {reason}"
        ) from None
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server  # type: ignore[return-value]


def poll_all(settings: Settings, *, due_only: bool) -> list[PollResult] | None:
    """Poll every channel (or every due one) through the scheduler's claim.

    With RabbitMQ the claim and fan-out run as a tick message on the tick
    queue, which the poll workers consume, and this returns None. Without a
    broker there is no worker to send to, so the claimed channels are polled
    here, a few at a time, and this returns their `PollResult`s when done;
    the downloads they want are left for the next tick of `tubepoller up`.
    """
    from .database import open_database

    if not settings.embedded_broker:
        # The message alone: the workers declare the actors, this command
        # needs none (a process that has them sends on their broker).
        from .broker import build_broker, tick_message

        actors = sys.modules.get("poller.actors")
        broker = actors.broker if actors is not None else build_broker(settings)
        broker.enqueue(tick_message(due_only=due_only))
        return None
    from . import notify_store, pipeline
    from .downloads import hand_to_sweep
    from .enqueue import enqueue_polls
    from .models import db
    from .outcomes import log_poll

    open_database(settings.database_url)
    start = time.time()

    def poll(send: tuple[int, float, str | None]) -> pipeline.PollResult:
        channel_id, delay_ms, probe = send
        time.sleep(max(0.0, start + delay_ms / 1000 - time.time()))  # its host's slot
        with db.connection_context():
            result = pipeline.poll_channel(channel_id, time.time(), settings, probe=probe)
            hand_to_sweep(result.download_ids, time.time())
            notify_store.hand_to_sweep(result.notice_ids, time.time())
            if result.outcome == pipeline.POLL_FAILED:
                log_poll(log, result)
        print(f"channel {channel_id}: {result.describe()}")
        return result

    # The claim and the hosts' budgets of the tick, with the sends kept here.
    sends = _Sends()
    with db.connection_context():
        enqueue_polls(sends, start, settings, due_only=due_only)
    with ThreadPoolExecutor(POLL_THREADS) as pool:
        return list(pool.map(poll, sorted(sends.sent, key=lambda s: s[1])))


class _Sends:
    """Stands in for the poll actor when polls run here: keeps each send and its delay."""

    def __init__(self) -> None:
        self.sent: list[tuple[int, float, str | None]] = []

    def send(self, channel_id: int) -> None:
        self.sent.append((channel_id, 0, None))

    def send_with_options(self, *, args: tuple, kwargs: dict, delay: int | None) -> None:
        self.sent.append((args[0], delay or 0, kwargs.get("probe")))
