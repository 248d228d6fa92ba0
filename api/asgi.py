"""The API behind an asyncio front: ``gunicorn 'api.asgi:create_asgi_app()'``.

gunicorn's sync and gthread workers give a connection a thread as soon as it
sends a byte, and the thread then blocks until the request is whole: 100
clients that send half a request and stop hold every thread, and the API
answers nobody (gunicorn's docs ask for a buffering proxy in front). Here
gunicorn's ``asgi`` worker reads requests on an event loop, where a stalled
client costs a socket and no thread, and a2wsgi runs the Falcon app (WSGI)
on a fixed pool of threads, each with its own pika connection.
"""

from __future__ import annotations

from typing import Any

from a2wsgi import WSGIMiddleware

from .app import create_app
from .waiting import MAX_WAITS, PROCESS_SLOTS, SPARE_THREADS

THREADS = MAX_WAITS + SPARE_THREADS  # waits are capped below the pool: some never wait


def create_asgi_app(threads: int = THREADS) -> Any:
    """Return the API as an ASGI app running on `threads` threads."""
    PROCESS_SLOTS.fit(threads)
    return WSGIMiddleware(_input_terminated(create_app()), workers=threads)


def _input_terminated(app: Any) -> Any:
    """Say that wsgi.input ends with the body, as it does here (ASGI frames it).

    A chunked body declares no length; without this flag a WSGI app may not
    read past the length it was told, which is none (`api.bodies`).
    """

    def call(environ: dict[str, Any], start_response: Any) -> Any:
        environ["wsgi.input_terminated"] = True
        return app(environ, start_response)

    return call
