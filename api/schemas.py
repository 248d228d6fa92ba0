"""JSON Schemas of the API's bodies: validated on the way in, published in the OpenAPI document.

JSON Schema 2020-12, as OpenAPI 3.1 uses it: a nullable value is
``{"type": [T, "null"]}``.
"""

from __future__ import annotations

from typing import Any

from poller.kinds import DEFAULT_INCLUDE, INCLUDABLE, MEDIA_TYPES
from poller.models import DOWNLOAD_STATES, FUTURE_ONLY, MODES

from .routes import MAX_ID

Schema = dict[str, Any]

ID: Schema = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TIME: Schema = {"type": ["string", "null"], "format": "date-time"}
TEXT_OR_NULL: Schema = {"type": ["string", "null"]}
MODE: Schema = {"type": "string", "enum": list(MODES)}
DOWNLOAD_STATUS: Schema = {"type": "string", "enum": list(DOWNLOAD_STATES)}
MEDIA_TYPE: Schema = {"type": "string", "enum": list(MEDIA_TYPES)}
INCLUDE: Schema = {
    "type": "array",
    "items": {"type": "string", "enum": list(INCLUDABLE)},
    "minItems": 1,
    "description": (
        "The kinds this subscriber gets; the others are cataloged, not referenced, "
        "announced or downloaded. An unknown or empty list is a 400."
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
CHANGE_MODE: Schema = {
    "type": "object",
    "properties": {"mode": MODE, "include": INCLUDE},
    "description": "At least one of mode and include.",
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
    },
    optional=("subscribers",),
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
EVENT = _object(
    {
        "id": ID,
        "user": {"type": "string", "description": "the name of the user it is for"},
        "kind": {"type": "string", "enum": ["new_episode", "catalog"]},
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


def _list(item: str, **extra: Schema) -> Schema:
    return _object({"items": {"type": "array", "items": {"$ref": item}}, **extra})


COMPONENTS: dict[str, Schema] = {
    "Error": ERROR,
    "Health": _object(
        {
            "database": {"type": "string"},
            "broker": {"type": "string"},
            "hosts": {"type": "array", "items": HOST},
        },
        optional=("hosts",),
    ),
    "Subscribe": SUBSCRIBE,
    "ChangeMode": CHANGE_MODE,
    "Channel": CHANNEL,
    "Subscribed": SUBSCRIBED,
    "ChannelList": _list("#/components/schemas/Channel"),
    "Enqueued": _object({"enqueued": {"type": "integer", "minimum": 0}}),
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
    "Event": EVENT,
    "EventList": _list(
        "#/components/schemas/Event",
        last_id={"type": "integer", "minimum": 0, "description": "pass as ?after next time"},
    ),
    "OpenAPI": {"type": "object"},
}
