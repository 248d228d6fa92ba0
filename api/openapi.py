"""The OpenAPI 3.1 document of the API, built from the route table.

`OPERATIONS` describes each (path, method) the route table lists; `document`
refuses a route without an operation and an operation without a route, so
the published document is exactly what `create_app` serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from poller import __version__

from .pagination import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT
from .params import MAX_WAIT_S
from .resources.docs import ASSETS
from .routes import MAX_ID, Route
from .schemas import COMPONENTS, DOWNLOAD_STATUS, ID

Operation = dict[str, Any]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _path_id(name: str, what: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "description": what, "schema": ID}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {
        "name": name,
        "in": "query",
        "required": False,
        "description": description,
        "schema": schema,
    }


PARAMETERS: dict[str, dict[str, Any]] = {
    "ChannelId": _path_id("channel_id", "a channel the caller subscribes to"),
    "VideoId": _path_id("video_id", "a video the caller has a reference to"),
    "Limit": _query(
        "limit",
        {"type": "integer", "minimum": 1, "maximum": MAX_LIMIT, "default": DEFAULT_LIMIT},
        "items per page",
    ),
    "Cursor": _query(
        "cursor",
        {"type": "string", "pattern": "^[A-Za-z0-9_-]+$", "maxLength": MAX_CURSOR},
        "the opaque `next` of the previous page",
    ),
    "Asset": {
        "name": "asset",
        "in": "path",
        "required": True,
        "description": "a file of the reference page",
        "schema": {"type": "string", "enum": sorted(ASSETS)},
    },
    "Status": _query("status", DOWNLOAD_STATUS, "only videos in this download state"),
    "Scope": _query(
        "scope", {"type": "string", "enum": ["all"]}, "admins: every channel, not only their own"
    ),
    "PollWait": _query(
        "wait",
        {"type": "number", "exclusiveMinimum": 0, "maximum": MAX_WAIT_S},
        "wait up to this many seconds for the poll and answer 200 with its outcome",
    ),
    "EventWait": _query(
        "wait",
        {"type": "number", "minimum": 0, "maximum": MAX_WAIT_S},
        "wait up to this many seconds for an event to arrive",
    ),
    "After": _query(
        "after",
        {"type": "integer", "minimum": 0, "maximum": MAX_ID, "default": 0},
        "only events with a larger id",
    ),
}

_REASONS = {
    "400": "Bad request: malformed JSON, a bad query parameter, an unusable URL or include",
    "401": "No valid bearer token",
    "403": "scope=all without admin rights",
    "404": "No such channel or video among the caller's",
    "409": "The video is already downloading or downloaded",
    "413": "The body is larger than 64 KiB",
    "415": "The body is not application/json",
    "429": "Too many waiting requests in this API process, or of this user; try again later "
    "(Retry-After) or without ?wait",
    "422": "The body is JSON but a field is unknown, missing or of the wrong type",
    "503": "The database or the broker is unavailable",
}


def _json(schema: str, description: str, links: dict[str, Any] | None = None) -> dict[str, Any]:
    response = {
        "description": description,
        "content": {"application/json": {"schema": _ref(schema)}},
    }
    if links:
        response["links"] = links
    return response


# Links tell a client (and schemathesis' stateful tests) where the ids come from.
CHANNEL_LINKS = {
    operation[0].upper() + operation[1:]: {
        "operationId": operation,
        "parameters": {"channel_id": "$response.body#/id"},
    }
    for operation in ("getChannel", "changeMode", "unsubscribe", "pollChannel", "listChannelVideos")
}
VIDEO_LINKS = {
    "Download": {
        "operationId": "download",
        "parameters": {"video_id": "$response.body#/items/0/id"},
    }
}


def _operation(
    operation_id: str,
    summary: str,
    ok: dict[str, dict[str, Any]],
    errors: Iterable[str] = (),
    *,
    parameters: Iterable[str] = (),
    body: str | None = None,
    public: bool = False,
) -> Operation:
    statuses = set(errors) | ({"400", "413", "415", "422"} if body else set())
    if not public:
        statuses |= {"401", "503"}
    responses = dict(ok)
    for status in sorted(statuses):
        responses[status] = _json("Error", _REASONS[status])
    operation: Operation = {
        "operationId": operation_id,
        "summary": summary,
        "parameters": [{"$ref": f"#/components/parameters/{name}"} for name in parameters],
        "responses": responses,
    }
    if body:
        operation["requestBody"] = {
            "required": True,
            "content": {"application/json": {"schema": _ref(body)}},
        }
    if public:
        operation["security"] = []
    return operation


OPERATIONS: dict[tuple[str, str], Operation] = {
    ("/api/health", "GET"): _operation(
        "health",
        "State of the database and the broker",
        {
            "200": _json("Health", "Both are reachable"),
            "503": _json("Health", "One is down; its entry says why"),
        },
        public=True,
    ),
    ("/metrics", "GET"): _operation(
        "metrics",
        "Prometheus metrics: polls, downloads, channels by health, queue depth",
        {"200": {"description": "The text exposition format", "content": {"text/plain": {}}}},
        public=True,
    ),
    ("/api/openapi.json", "GET"): _operation(
        "openapi",
        "This document",
        {"200": _json("OpenAPI", "The OpenAPI 3.1 document")},
        public=True,
    ),
    ("/api/docs", "GET"): _operation(
        "apiReference",
        "A browsable reference of this document (Swagger UI, served from here)",
        {"200": {"description": "The page", "content": {"text/html": {}}}},
        public=True,
    ),
    ("/api/docs/{asset}", "GET"): _operation(
        "apiReferenceAsset",
        "A script or style sheet of the reference page",
        {
            "200": {"description": "The file", "content": {"text/javascript": {}, "text/css": {}}},
            "404": _json("Error", "No such file"),
        },
        parameters=["Asset"],
        public=True,
    ),
    ("/api/channels", "GET"): _operation(
        "listChannels",
        "The caller's channels with their poll state",
        {"200": _json("ChannelList", "Channels by id")},
        ["400", "403"],
        parameters=["Scope"],
    ),
    ("/api/channels", "POST"): _operation(
        "subscribe",
        "Subscribe to a channel or feed; the first poll is queued",
        {
            "201": _json(
                "Subscribed", "Subscribed; the channel's first poll is queued", CHANNEL_LINKS
            ),
            "200": _json(
                "Subscribed",
                "Already subscribed; a mode or include in the body replaces the old one",
                CHANNEL_LINKS,
            ),
        },
        body="Subscribe",
    ),
    ("/api/channels/poll", "POST"): _operation(
        "pollAll",
        "Queue a poll of each of the caller's channels (scope=all: every channel)",
        {"202": _json("Enqueued", "Polls queued; channels already queued are skipped")},
        ["400", "403"],
        parameters=["Scope"],
    ),
    ("/api/channels/{channel_id}", "GET"): _operation(
        "getChannel",
        "One channel with its poll state",
        {"200": _json("Channel", "The channel")},
        ["404"],
        parameters=["ChannelId"],
    ),
    ("/api/channels/{channel_id}", "PATCH"): _operation(
        "changeMode",
        "Change the caller's tracking mode and the kinds they include",
        {"200": _json("Channel", "The channel with the new mode and include")},
        ["400", "404"],
        parameters=["ChannelId"],
        body="ChangeMode",
    ),
    ("/api/channels/{channel_id}", "DELETE"): _operation(
        "unsubscribe",
        "Unsubscribe; a channel nobody subscribes to is no longer polled",
        {"204": {"description": "Unsubscribed"}},
        ["404"],
        parameters=["ChannelId"],
    ),
    ("/api/channels/{channel_id}/poll", "POST"): _operation(
        "pollChannel",
        "Queue a poll of one channel, optionally waiting for its outcome",
        {
            "202": _json("PollQueued", "Queued (or already queued); with wait: no outcome in time"),
            "200": _json("PollOutcome", "With wait: the poll's outcome"),
        },
        ["400", "404", "429"],
        parameters=["ChannelId", "PollWait"],
    ),
    ("/api/channels/{channel_id}/videos", "GET"): _operation(
        "listChannelVideos",
        "The channel's videos, newest first",
        {"200": _json("VideoPage", "One page", VIDEO_LINKS)},
        ["400", "404"],
        parameters=["ChannelId", "Status", "Limit", "Cursor"],
    ),
    ("/api/videos", "GET"): _operation(
        "listVideos",
        "The caller's videos across their channels, newest first",
        {"200": _json("VideoPage", "One page", VIDEO_LINKS)},
        ["400"],
        parameters=["Status", "Limit", "Cursor"],
    ),
    ("/api/videos/{video_id}/download", "POST"): _operation(
        "download",
        "Queue a download of a cataloged video",
        {"202": _json("DownloadQueued", "Queued, or already queued (queued: false)")},
        ["404", "409"],
        parameters=["VideoId"],
    ),
    ("/api/events", "GET"): _operation(
        "listEvents",
        "The caller's events after an id, oldest first, at most 100",
        {"200": _json("EventList", "Events; an empty list when none arrived in time")},
        ["400", "429"],
        parameters=["After", "EventWait"],
    ),
}


def document(routes: Iterable[Route]) -> dict[str, Any]:
    """Return the OpenAPI document of `routes`.

    Raises:
        KeyError: a route's method has no operation.
        ValueError: an operation describes no route.
    """
    paths: dict[str, dict[str, Operation]] = {}
    served = set()
    for route in routes:
        for method in route.methods:
            paths.setdefault(route.path, {})[method.lower()] = OPERATIONS[(route.path, method)]
            served.add((route.path, method))
    extra = set(OPERATIONS) - served
    if extra:
        raise ValueError(f"operations without a route: {sorted(extra)}")
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "tubepoller",
            "version": __version__,
            "description": "Watch video channels and feeds: subscribe, poll, list, download.",
        },
        "servers": [{"url": "/"}],
        "security": [{"bearer": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "schemas": COMPONENTS,
            "parameters": PARAMETERS,
        },
    }
