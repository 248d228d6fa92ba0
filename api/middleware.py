"""Falcon middleware: a capped body and a database connection per request."""

from __future__ import annotations

from typing import Any

import falcon

MAX_BODY = 64 * 1024  # bytes; the largest JSON body we take is a URL and a mode
# An OPML file or a subscriptions.csv (POST /api/import): 100,000 entries fit.
MAX_UPLOAD = 16 * 1024 * 1024
UPLOAD_PATHS = frozenset({"/api/import"})
# How much of a refused body is read and dropped before answering 413. A
# client such as urllib writes its whole body before reading the answer: if
# the server closes with the body unread, the kernel resets the connection
# and the client sees "broken pipe" instead of the 413. Past this, it may.
MAX_DRAIN = 8 * 1024 * 1024
_CHUNK = 64 * 1024


class BodyLimit:
    """Refuse a declared body over `limit` bytes; drain a refused body after.

    A file upload's path takes up to MAX_UPLOAD. A chunked body declares no
    length; `bodies.read_json` and `bodies.read_upload` cap what they read.
    """

    def __init__(self, limit: int = MAX_BODY) -> None:
        self.limit = limit

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        limit = MAX_UPLOAD if req.path in UPLOAD_PATHS else self.limit
        if req.content_length is not None and req.content_length > limit:
            raise too_large(limit)

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        """Read what is left of the body, whatever the answer (413, 401, 404…).

        A body over MAX_DRAIN is left alone: reading it would cost more than
        the client's seeing our answer is worth.
        """
        if req.content_length is not None:
            if req.content_length <= MAX_DRAIN:
                drain(req.bounded_stream)
        elif req.env.get("wsgi.input_terminated"):  # chunked, and the server ends it
            drain(req.stream)


def too_large(limit: int = MAX_BODY) -> falcon.HTTPContentTooLarge:
    """Return the 413 for a body over `limit`, closing the connection after it."""
    return falcon.HTTPContentTooLarge(
        description=f"request bodies are limited to {limit} bytes",
        headers={"Connection": "close"},
    )


def drain(stream: Any, limit: int = MAX_DRAIN) -> None:
    """Read and drop up to `limit` bytes of a body that is refused."""
    left = limit
    while left > 0:
        chunk = stream.read(min(_CHUNK, left))
        if not chunk:
            return
        left -= len(chunk)


class DatabaseSession:
    """Open the thread's database connection for a request and close it after.

    The connection is opened after routing so that a resource that reports
    on the database itself (`uses_database = False`: the health check) sees
    a failure instead of the request failing first. Closing after every
    request hands the connection back to the pool on PostgreSQL and means a
    failed request never leaves a transaction open for the next one.

    Args:
        database: has ``connect()`` and ``release()`` (`poller.database`).
    """

    def __init__(self, database: Any) -> None:
        self.database = database

    def process_resource(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, params: dict
    ) -> None:
        if resource is not None and getattr(resource, "uses_database", True):
            self.database.connect()

    def process_response(
        self, req: falcon.Request, resp: falcon.Response, resource: Any, req_succeeded: bool
    ) -> None:
        self.database.release()
