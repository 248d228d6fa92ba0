"""The OpenAPI 3.1 document of the API, built from the route table.

`OPERATIONS` describes each (path, method) the route table lists; `document`
refuses a route without an operation and an operation without a route, so
the published document is exactly what `create_app` serves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from poller import __version__
from poller.models import FUTURE_ONLY

from .pagination import DEFAULT_LIMIT, MAX_CURSOR, MAX_LIMIT
from .params import MAX_WAIT_S
from .resources.docs import ASSETS
from .routes import MAX_ID, Route
from .schemas import COMPONENTS, DOWNLOAD_STATUS, ID, MODE
from .session import SESSION_COOKIE

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
    "UserName": {
        "name": "name",
        "in": "path",
        "required": True,
        "description": "a user's name",
        "schema": {"type": "string", "minLength": 1, "maxLength": 64},
    },
    "TargetId": _path_id("target_id", "one of the caller's notification targets"),
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
    "WebSubToken": {
        "name": "token",
        "in": "path",
        "required": True,
        "description": "names one push subscription (its callback, given to its hub)",
        "schema": {"type": "string", "maxLength": 64},
    },
    "HubMode": _query(
        "hub.mode",
        {"type": "string", "enum": ["subscribe", "unsubscribe", "denied"]},
        "what the hub verifies",
    ),
    "HubTopic": _query("hub.topic", {"type": "string"}, "the topic asked for"),
    "HubChallenge": _query("hub.challenge", {"type": "string"}, "echoed when the request is ours"),
    "HubLease": _query("hub.lease_seconds", {"type": "string"}, "the lease the hub grants"),
    "Status": _query("status", DOWNLOAD_STATUS, "only videos in this download state"),
    "ImportMode": _query(
        "mode", {**MODE, "default": FUTURE_ONLY}, "the mode of each new subscription"
    ),
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
    "400": "Bad request: malformed JSON, a bad query parameter, an unusable URL or an unknown"
    " event",
    "401": "No valid bearer token",
    "403": "scope=all, or managing users, without admin rights",
    "404": "No such channel, video or notification target among the caller's (or no such user)",
    "409": "The video is already downloading or downloaded (or the user name is taken)",
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
    for operation in (
        "getChannel",
        "changeMode",
        "unsubscribe",
        "pollChannel",
        "listChannelVideos",
        "listChannelPolls",
    )
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


_BACK = {"description": "Back to the page (POST, redirect, GET); a notice says what happened"}


def _form(
    operation_id: str,
    summary: str,
    fields: dict[str, dict[str, Any]],
    parameters: Iterable[str] = (),
    csrf: str = "the session's CSRF token, in every form of the page",
    session: bool = True,
) -> Operation:
    """Return a form of the status page: urlencoded fields in, 303 to ``/`` out."""
    schema = {
        "type": "object",
        "required": ["csrf", *(name for name in fields if name != "mode")],
        "properties": {"csrf": {"type": "string", "description": csrf}, **fields},
    }
    operation = _operation(
        operation_id,
        summary,
        {"303": _BACK, "403": _json("Error", "The CSRF token is missing or wrong")},
        parameters=parameters,
        public=True,
    )
    operation["requestBody"] = {
        "required": True,
        "content": {"application/x-www-form-urlencoded": {"schema": schema}},
    }
    operation["security"] = [{"session": []}] if session else []
    return operation


_HTML: dict[str, Any] = {"content": {"text/html": {}}}

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
        "Change the caller's tracking mode, the kinds they include, or pause or resume",
        {"200": _json("Channel", "The channel with the new mode, include and pause")},
        ["404"],
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
    ("/api/channels/{channel_id}/polls", "GET"): _operation(
        "listChannelPolls",
        "The channel's last 50 polls, newest first",
        {"200": _json("PollList", "Polls: outcome, HTTP status, duration, new videos, error")},
        ["404"],
        parameters=["ChannelId"],
    ),
    ("/api/users", "GET"): _operation(
        "listUsers",
        "Every user (admins only)",
        {"200": _json("UserList", "Users by name, without tokens")},
        ["403"],
    ),
    ("/api/users", "POST"): _operation(
        "createUser",
        "Create a user and return its API token, shown this once (admins only)",
        {"201": _json("UserToken", "Created")},
        ["403", "409"],
        body="CreateUser",
    ),
    ("/api/users/{name}", "DELETE"): _operation(
        "deleteUser",
        "Delete a user, their subscriptions and events (admins only)",
        {"204": {"description": "Deleted; channels only they followed are no longer polled"}},
        ["403", "404"],
        parameters=["UserName"],
    ),
    ("/api/users/{name}/token", "POST"): _operation(
        "rotateToken",
        "Give a user a new API token; the old one stops working at once (admins only)",
        {"200": _json("UserToken", "The new token, shown this once")},
        ["403", "404"],
        parameters=["UserName"],
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
    ("/api/import", "POST"): {
        **_operation(
            "importSubscriptions",
            "Subscribe to every channel of an OPML file or a YouTube subscriptions.csv",
            {"200": _json("Imported", "What was added, already there, and refused")},
            ["400", "413", "422"],
            parameters=["ImportMode"],
        ),
        "requestBody": {
            "required": True,
            "description": "the file itself as the body (OPML, or the CSV of a YouTube export)",
            "content": {
                kind: {"schema": {"type": "string"}}
                for kind in ("text/x-opml", "text/xml", "application/xml", "text/csv")
            },
        },
    },
    ("/websub/{token}", "GET"): _operation(
        "websubVerify",
        "A WebSub hub verifies a (un)subscription we asked for",
        {
            "200": {"description": "The challenge, echoed", "content": {"text/plain": {}}},
            "404": _json("Error", "Not a request we made: unknown token, other mode or topic"),
        },
        parameters=["WebSubToken", "HubMode", "HubTopic", "HubChallenge", "HubLease"],
        public=True,
    ),
    ("/websub/{token}", "POST"): _operation(
        "websubPush",
        "A WebSub hub pushes an update: a poll of the channel is queued (a hint only)",
        {
            "204": {"description": "Taken; a bad or missing X-Hub-Signature is dropped unseen"},
            "413": _json("Error", "The body is larger than 64 KiB"),
        },
        parameters=["WebSubToken"],
        public=True,
    ),
    ("/api/notifications", "GET"): _operation(
        "listNotificationTargets",
        "The caller's notification targets, secrets masked, with their last deliveries",
        {"200": _json("NotificationTargetList", "Targets by id")},
    ),
    ("/api/notifications", "POST"): _operation(
        "addNotificationTarget",
        "Add a notification target: an Apprise URL and the events it wants",
        {
            "201": _json(
                "NotificationTarget",
                "Added",
                {
                    "RemoveNotificationTarget": {
                        "operationId": "removeNotificationTarget",
                        "parameters": {"target_id": "$response.body#/id"},
                    }
                },
            )
        },
        body="AddTarget",
    ),
    ("/api/notifications/{target_id}", "DELETE"): _operation(
        "removeNotificationTarget",
        "Remove a notification target and its deliveries",
        {"204": {"description": "Removed"}},
        ["404"],
        parameters=["TargetId"],
    ),
    ("/", "GET"): _operation(
        "statusPage",
        "The status page (HTML): the sign-in form, or the caller's channels and videos",
        {"200": {"description": "The page, signed in by the session cookie or not", **_HTML}},
        public=True,
    ),
    ("/page.css", "GET"): _operation(
        "statusPageStyle",
        "The status page's style sheet",
        {"200": {"description": "The style sheet", "content": {"text/css": {}}}},
        public=True,
    ),
    ("/signin", "POST"): _form(
        "signIn",
        "Trade an API token for the page's session cookie (HttpOnly, SameSite=Strict)",
        {"token": {"type": "string", "description": "an API token"}},
        csrf="the nonce of the sign-in form, which its cookie repeats",
        session=False,
    ),
    ("/signout", "POST"): _form("signOut", "End the page's session", {}),
    ("/page/channels", "POST"): _form(
        "pageSubscribe",
        "Subscribe from the page; the first poll is queued",
        {"url": {"type": "string"}, "mode": MODE},
    ),
    ("/page/channels/{channel_id}/mode", "POST"): _form(
        "pageChangeMode", "Change a channel's mode from the page", {"mode": MODE}, ["ChannelId"]
    ),
    ("/page/channels/{channel_id}/unsubscribe", "POST"): _form(
        "pageUnsubscribe", "Unsubscribe from the page", {}, ["ChannelId"]
    ),
    ("/page/channels/{channel_id}/poll", "POST"): _form(
        "pagePoll", "Poll a channel now, from the page", {}, ["ChannelId"]
    ),
    ("/page/videos/{video_id}/download", "POST"): _form(
        "pageDownload", "Download a video, from the page", {}, ["VideoId"]
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
            "securitySchemes": {
                "bearer": {"type": "http", "scheme": "bearer"},
                "session": {"type": "apiKey", "in": "cookie", "name": SESSION_COOKIE},
            },
            "schemas": COMPONENTS,
            "parameters": PARAMETERS,
        },
    }
