"""Falcon middleware: a capped body and a database connection per request."""

from __future__ import annotations

from typing import Any

import falcon

MAX_BODY = 64 * 1024  # bytes; the largest body we take is a URL and a mode


class BodyLimit:
    """Refuse a declared body over `limit` bytes before anything reads it.

    A chunked body declares no length; `bodies.read_json` caps what it reads.
    """

    def __init__(self, limit: int = MAX_BODY) -> None:
        self.limit = limit

    def process_request(self, req: falcon.Request, resp: falcon.Response) -> None:
        if req.content_length is not None and req.content_length > self.limit:
            raise falcon.HTTPContentTooLarge(
                description=f"request bodies are limited to {self.limit} bytes"
            )


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
