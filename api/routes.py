"""The API's routes: one table that `create_app` and the OpenAPI document share.

Both read this table, so the document cannot describe a route the app does
not serve, nor miss one it does; `create_app` also checks that each resource
has exactly the responders a route lists.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from falcon.routing import IntConverter

MAX_ID = 2**63 - 1  # ids are 64-bit integers in SQLite and PostgreSQL alike


class IdConverter(IntConverter):
    """Accept a row id: a positive integer that fits the database's BIGINT.

    A larger number would overflow the driver and answer 500; out of range,
    the route does not match and the answer is a 404 like any unknown id.
    """

    def __init__(self) -> None:
        super().__init__(min=1, max=MAX_ID)


@dataclass(frozen=True)
class Route:
    """One URI template served by one resource.

    Attributes:
        template: the Falcon URI template; ``{name:id}`` is a row id.
        resource: the key of the resource object `create_app` builds.
        methods: the HTTP methods served, each with an OpenAPI operation.
        suffix: the Falcon responder suffix (``on_get_<suffix>``), if any.
    """

    template: str
    resource: str
    methods: tuple[str, ...]
    suffix: str | None = None

    @property
    def path(self) -> str:
        """Return the template as OpenAPI writes it, without converters."""
        return re.sub(r"\{(\w+):[^}]*\}", r"{\1}", self.template)


ROUTES: tuple[Route, ...] = (
    Route("/api/health", "health", ("GET",)),
    Route("/metrics", "metrics", ("GET",)),
    Route("/api/openapi.json", "openapi", ("GET",)),
    Route("/api/docs", "docs", ("GET",)),
    Route("/api/docs/{asset}", "docs", ("GET",), "asset"),
    Route("/api/channels", "channels", ("GET", "POST")),
    Route("/api/channels/poll", "polls", ("POST",)),
    Route("/api/channels/{channel_id:id}", "channels", ("GET", "PATCH", "DELETE"), "item"),
    Route("/api/channels/{channel_id:id}/poll", "polls", ("POST",), "channel"),
    Route("/api/channels/{channel_id:id}/videos", "videos", ("GET",), "channel"),
    Route("/api/channels/{channel_id:id}/polls", "history", ("GET",)),
    Route("/api/users", "users", ("GET", "POST")),
    Route("/api/users/{name}", "users", ("DELETE",), "item"),
    Route("/api/users/{name}/token", "users", ("POST",), "token"),
    Route("/api/videos", "videos", ("GET",)),
    Route("/api/videos/{video_id:id}/download", "downloads", ("POST",)),
    Route("/api/events", "events", ("GET",)),
    Route("/api/import", "imports", ("POST",)),
    Route("/websub/{token}", "websub", ("GET", "POST")),
    Route("/api/notifications", "notifications", ("GET", "POST")),
    Route("/api/notifications/{target_id:id}", "notifications", ("DELETE",), "item"),
    # The status page: HTML, signed in by a session cookie, not a bearer token.
    Route("/", "page", ("GET",)),
    Route("/page.css", "page", ("GET",), "style"),
    Route("/signin", "signin", ("POST",)),
    Route("/signout", "page", ("POST",), "signout"),
    Route("/page/channels", "page_actions", ("POST",), "subscribe"),
    Route("/page/channels/{channel_id:id}/mode", "page_actions", ("POST",), "mode"),
    Route("/page/channels/{channel_id:id}/unsubscribe", "page_actions", ("POST",), "unsubscribe"),
    Route("/page/channels/{channel_id:id}/poll", "page_actions", ("POST",), "poll"),
    Route("/page/videos/{video_id:id}/download", "page_actions", ("POST",), "download"),
)
