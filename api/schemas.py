"""JSON Schemas of the API's bodies: validated on the way in, published in the OpenAPI document.

JSON Schema 2020-12, as OpenAPI 3.1 uses it: a nullable value is
``{"type": [T, "null"]}``.
"""

from __future__ import annotations

from typing import Any

from poller.kinds import DEFAULT_INCLUDE, INCLUDABLE, MEDIA_TYPES
from poller.models import (
    CATALOGED,
    DELIVERY_FAILED,
    DELIVERY_PENDING,
    DELIVERY_SENT,
    DOWNLOAD_STATES,
    FUTURE_ONLY,
    MODES,
)
from poller.notices import EVENTS, TEST
from poller.websub import STATES as PUSH_STATES

from .routes import MAX_ID

Schema = dict[str, Any]

ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
TEXT_OR_NULL: Schema = {"type": ["string", "null"]}
MODE: Schema = {"type": "string", "enum": list(MODES)}
DOWNLOAD_STATUS: Schema = {"type": "string", "enum": list(DOWNLOAD_STATES)}
MEDIA_TYPE: Schema = {"type": "string", "enum": list(MEDIA_TYPES)}
# The kinds are checked by the domain (`kinds.parse_include`), which names the
# bad one in a 400; the body check only sees that they are strings.
INCLUDE: Schema = {
    "type": "array",
    "items": {"type": "string", "description": f"one of {', '.join(INCLUDABLE)}"},
    "description": (
        f"The kinds this subscriber gets, of {', '.join(INCLUDABLE)}; the others are "
        "cataloged, not referenced, announced or downloaded. An unknown kind or an "
        "empty list is a 400."
    ),
}
OUTCOMES = ["not_modified", "unchanged", "new", "failed"]

# Request bodies: `bodies.check` enforces exactly these keywords.
SUBSCRIBE: Schema = {
    "type": "object",
    "properties": {
        "url": {
            "type": "string",
            "format": "uri",  # an annotation: `sources.resolve` says what is usable
            "minLength": 1,
            "maxLength": 2048,
            "description": "A YouTube /channel/UC… URL or an http(s) RSS/Atom feed URL.",
        },
        "mode": {**MODE, "default": FUTURE_ONLY},
        "include": {**INCLUDE, "default": list(DEFAULT_INCLUDE)},
    },
    "required": ["url"],
    "additionalProperties": False,
}
ADD_TARGET: Schema = {
    "type": "object",
    "properties": {
        "url": {
            "type": "string",
            "minLength": 1,
            "maxLength": 2048,
            "description": "An Apprise URL: ntfy://topic, gotify://host/token, discord://id/token,"
            " mailto://user:pass@host, json://host/path … (a json/xml/form webhook on a"
            " loopback or private address needs TUBEPOLLER_ALLOW_PRIVATE_NETWORKS=1);"
            " one Apprise cannot read is a 400",
        },
        "events": {
            "type": "array",
            "maxItems": 16,
            # No enum here: an unknown event is a 400 naming the events, not a 422.
            "items": {"type": "string", "maxLength": 64},
            "description": f"One or more of: {', '.join(EVENTS)}; an unknown one is a 400",
        },
    },
    "required": ["url", "events"],
    "additionalProperties": False,
}
CHANGE_MODE: Schema = {
    "type": "object",
    "properties": {
        "mode": MODE,
        "include": INCLUDE,
        "paused": {
            "type": "boolean",
            "description": "pause or resume the caller's subscription; the channel is not "
            "polled while every subscriber has paused it",
        },
    },
    "description": "At least one of mode, include and paused.",
    "minProperties": 1,
    "additionalProperties": False,
}
USER_NAME: Schema = {
    "type": "string",
    "minLength": 1,
    "maxLength": 64,
    "pattern": "^[A-Za-z0-9_.-]+$",
    "description": "letters, digits, '.', '_' or '-'",
}
CREATE_USER: Schema = {
    "type": "object",
    "properties": {"name": USER_NAME, "admin": {"type": "boolean", "default": False}},
    "required": ["name"],
    "additionalProperties": False,
}


def _object(properties: dict[str, Schema], optional: tuple[str, ...] = ()) -> Schema:
    return {
        "type": "object",
        "properties": properties,
        "required": [name for name in properties if name not in optional],
    }


ERROR = _object({"title": {"type": "string"}, "description": TEXT_OR_NULL})
CHANNEL = _object(
    {
        "id": ID,
        "kind": {"type": "string", "enum": ["youtube", "feed"]},
        "url": {"type": "string"},
        "title": {"type": "string"},
        "last_polled_at": TIME,
        "next_poll_at": TIME,
        "interval_s": {"type": "integer"},
        "consecutive_failures": {"type": "integer", "minimum": 0},
        "last_error": TEXT_OR_NULL,
        "last_error_at": TIME,
        "last_outcome": TEXT_OR_NULL,
        "warning": {
            "type": ["string", "null"],
            "description": "a problem the last poll got past (a feed that is not well-formed)",
        },
        "cataloged": {"type": "boolean"},
        "catalog_error": TEXT_OR_NULL,
        "video_count": {"type": "integer", "minimum": 0},
        "mode": {"type": ["string", "null"], "enum": [*MODES, None]},
        "include": {
            "type": ["array", "null"],
            "items": {"type": "string", "enum": list(INCLUDABLE)},
            "description": "the kinds the reader's subscription takes (null: not subscribed)",
        },
        "subscribed_at": TIME,
        "paused": {"type": "boolean", "description": "its host is paused (bot check, 429)"},
        "paused_until": TIME,
        "degraded": {"type": "boolean", "description": "its host fails most feeds at once"},
        "subscribers": {"type": "integer", "minimum": 0, "description": "with scope=all only"},
        "subscription_paused": {
            "type": "boolean",
            "description": "the caller paused their subscription (PATCH paused)",
        },
        "polls_paused": {
            "type": "boolean",
            "description": "every subscriber paused it: not polled until one resumes",
        },
        "push": {
            "oneOf": [
                {"type": "null", "description": "no WebSub subscription"},
                _object(
                    {
                        "state": {"type": "string", "enum": list(PUSH_STATES)},
                        "requested": TEXT_OR_NULL,
                        "healthy": {
                            "type": "boolean",
                            "description": "a push announced an upload a poll found; "
                            "the sanity poll is stretched",
                        },
                        "lease_until": TIME,
                        "last_push_at": TIME,
                        "pushes": {"type": "integer", "minimum": 0},
                        "dropped": {"type": "integer", "minimum": 0},
                        "last_error": TEXT_OR_NULL,
                    }
                ),
            ]
        },
    },
    optional=("subscribers",),
)

_COUNT: Schema = {"type": "integer", "minimum": 0}
PUSH_COUNTS = _object(
    {
        "enabled": {"type": "boolean", "description": "TUBEPOLLER_PUBLIC_URL is set"},
        "subscribed": _COUNT,
        "healthy": _COUNT,
        "requested": _COUNT,
        "failing": _COUNT,
        "dropped_pushes": _COUNT,
    }
)
HOST = _object(
    {
        "name": {"type": "string", "description": "lower-case host[:port]"},
        "state": {"type": "string", "enum": ["open", "paused", "probe_free", "probing"]},
        "paused": {"type": "boolean", "description": "until a probe at its end succeeds"},
        "paused_until": TIME,
        "pause_reason": TEXT_OR_NULL,
        "pause_level": {"type": "integer", "minimum": 0, "description": "doublings"},
        "degraded": {"type": "boolean"},
        "degraded_since": TIME,
    }
)
SUBSCRIBED: Schema = {
    "allOf": [
        {"$ref": "#/components/schemas/Channel"},
        _object(
            {
                "poll_queued": {"type": "boolean"},
                "mode_changed": {
                    "type": "boolean",
                    "description": "already subscribed, and this request changed the mode",
                },
            }
        ),
    ]
}
VIDEO = _object(
    {
        "id": ID,
        "channel_id": ID,
        "external_id": {"type": "string"},
        "title": {"type": "string"},
        "url": {"type": "string"},
        "published_at": TIME,
        "discovered_at": TIME,
        "backfill": {"type": "boolean"},
        "media_type": MEDIA_TYPE,
        "available_at": {
            **TIME,
            "description": "an upcoming premiere's or stream's start, when known",
        },
        "download_status": DOWNLOAD_STATUS,
        "download_error": TEXT_OR_NULL,
    }
)
POLL = _object(
    {
        "seq": {"type": "integer", "minimum": 1, "description": "the channel's poll number"},
        "polled_at": TIME,
        "outcome": {"type": "string", "enum": [*OUTCOMES, "deferred"]},
        "http_status": {"type": ["integer", "null"], "description": "the feed's answer"},
        "duration_ms": {"type": "integer", "minimum": 0},
        "new_videos": {"type": "integer", "minimum": 0},
        "backfill": {"type": "integer", "minimum": 0, "description": "back catalog added"},
        "error": TEXT_OR_NULL,
    }
)
USER = _object(
    {
        "id": ID,
        "name": {"type": "string"},
        "admin": {"type": "boolean"},
        "created_at": TIME,
        "subscriptions": {"type": "integer", "minimum": 0},
    }
)
EVENT = _object(
    {
        "id": ID,
        "user": {"type": "string", "description": "the name of the user it is for"},
        "kind": {"type": "string", "enum": [EVENTS[0], CATALOGED, *EVENTS[1:]]},
        "channel_id": {"type": ["integer", "null"]},
        "video_id": {"type": ["integer", "null"]},
        "video": {
            "type": ["object", "null"],
            "properties": {
                "id": ID,
                "title": {"type": "string"},
                "url": {"type": "string"},
                "published_at": TIME,
            },
        },
        "payload": {"type": "object"},
        "created_at": TIME,
    }
)


DELIVERY = _object(
    {
        "id": ID,
        "event": {"type": "string", "enum": [*EVENTS, TEST]},
        "event_id": {"type": ["integer", "null"], "description": "null for a test message"},
        "status": {"type": "string", "enum": [DELIVERY_PENDING, DELIVERY_SENT, DELIVERY_FAILED]},
        "attempts": {"type": "integer", "minimum": 0},
        "reason": {**TEXT_OR_NULL, "description": "why the last attempt failed"},
        "created_at": TIME,
        "sent_at": TIME,
    }
)
NOTIFICATION_TARGET = _object(
    {
        "id": ID,
        "user": {"type": "string"},
        "url": {"type": "string", "description": "the URL with its secrets masked (****)"},
        "service": {"type": "string", "description": "the Apprise service (JSON, ntfy, …)"},
        "events": {"type": "array", "items": {"type": "string", "enum": list(EVENTS)}},
        "created_at": TIME,
        "deliveries": {
            "type": "array",
            "items": DELIVERY,
            "description": "the last 5, newest first",
        },
    }
)


def _list(item: str, **extra: Schema) -> Schema:
    return _object({"items": {"type": "array", "items": {"$ref": item}}, **extra})


COMPONENTS: dict[str, Schema] = {
    "Error": ERROR,
    "Health": _object(
        {
            "database": {"type": "string"},
            "broker": {"type": "string"},
            "hosts": {"type": "array", "items": HOST},
            "push": PUSH_COUNTS,
        },
        optional=("hosts", "push"),
    ),
    "Subscribe": SUBSCRIBE,
    "ChangeMode": CHANGE_MODE,
    "Channel": CHANNEL,
    "Subscribed": SUBSCRIBED,
    "ChannelList": _list("#/components/schemas/Channel"),
    "Enqueued": _object({"enqueued": {"type": "integer", "minimum": 0}}),
    "Imported": _object(
        {
            "added": {"type": "integer", "minimum": 0, "description": "new subscriptions"},
            "already": {"type": "integer", "minimum": 0, "description": "subscribed before"},
            "refused": {
                "type": "array",
                "items": _object({"url": {"type": "string"}, "reason": {"type": "string"}}),
                "description": "entries that name no usable channel, with the reason",
            },
        }
    ),
    "PollQueued": _object(
        {
            "queued": {"type": "boolean"},
            "outcome": {"type": "null", "description": "present (null) when ?wait timed out"},
        },
        optional=("outcome",),
    ),
    "PollOutcome": _object(
        {
            "queued": {"type": "boolean"},
            "outcome": {"type": "string", "enum": OUTCOMES},
            "videos": {"type": "array", "items": {"$ref": "#/components/schemas/Video"}},
            "error": TEXT_OR_NULL,
        }
    ),
    "Video": VIDEO,
    "VideoPage": _list(
        "#/components/schemas/Video",
        next={"type": ["string", "null"], "description": "the cursor of the next page"},
    ),
    "DownloadQueued": _object({"queued": {"type": "boolean"}, "download_status": DOWNLOAD_STATUS}),
    "Poll": POLL,
    "PollList": _list("#/components/schemas/Poll"),
    "User": USER,
    "UserList": _list("#/components/schemas/User"),
    "CreateUser": CREATE_USER,
    "UserToken": {
        "allOf": [
            {"$ref": "#/components/schemas/User"},
            _object({"token": {"type": "string", "description": "shown this once"}}),
        ]
    },
    "Event": EVENT,
    "EventList": _list(
        "#/components/schemas/Event",
        last_id={"type": "integer", "minimum": 0, "description": "pass as ?after next time"},
    ),
    "AddTarget": ADD_TARGET,
    "NotificationTarget": NOTIFICATION_TARGET,
    "NotificationTargetList": _list("#/components/schemas/NotificationTarget"),
    "OpenAPI": {"type": "object"},
}
