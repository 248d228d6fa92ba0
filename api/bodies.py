"""Read a JSON request body and check it against the schema the OpenAPI document shows.

The check covers the small part of JSON Schema our bodies use — an object
with typed properties (enum, minLength, maxLength, pattern; an array's item
type, minItems and maxItems), required names, a minimum number of
properties, and no others — so the document and the validation cannot drift
apart.
"""

from __future__ import annotations

import json
import re
from typing import Any

import falcon

from .middleware import MAX_BODY, MAX_UPLOAD, too_large

_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "boolean": (bool,),
    "object": (dict,),
    "array": (list,),
}


def read_json(req: falcon.Request, schema: dict[str, Any]) -> dict[str, Any]:
    """Return the request's JSON object after checking it against `schema`.

    Raises:
        falcon.HTTPUnsupportedMediaType: the body is not sent as JSON (415).
        falcon.HTTPContentTooLarge: the body exceeds MAX_BODY (413).
        falcon.HTTPBadRequest: the body is empty or not valid JSON (400).
        falcon.HTTPUnprocessableEntity: valid JSON that does not fit (422),
            naming the field.
    """
    mimetype = (req.content_type or "").split(";", 1)[0].strip().lower()
    if mimetype != falcon.MEDIA_JSON and not mimetype.endswith("+json"):
        raise falcon.HTTPUnsupportedMediaType(
            description=f"send the body as {falcon.MEDIA_JSON}, not {mimetype or 'no type'}"
        )
    raw = _read_capped(req)
    if len(raw) > MAX_BODY:
        raise too_large()
    if not raw.strip():
        raise falcon.HTTPBadRequest(title="Empty body", description="send a JSON object")
    try:
        body = json.loads(raw, parse_constant=_no_constants)
    except (ValueError, RecursionError) as exc:  # UnicodeDecodeError is a ValueError
        raise falcon.HTTPBadRequest(
            title="Malformed JSON", description=f"the body is not valid JSON: {exc}"
        ) from None
    check(body, schema)
    return body


def read_upload(req: falcon.Request) -> bytes:
    """Return a file sent as the request body (an OPML file, a CSV export).

    Raises:
        falcon.HTTPContentTooLarge: the body exceeds MAX_UPLOAD (413).
        falcon.HTTPBadRequest: the body is empty (400).
    """
    raw = _body_stream(req).read(MAX_UPLOAD + 1)
    if len(raw) > MAX_UPLOAD:
        raise too_large(MAX_UPLOAD)
    if not raw.strip():
        raise falcon.HTTPBadRequest(
            title="Empty body", description="send the OPML file or subscriptions.csv as the body"
        )
    return raw


def _read_capped(req: falcon.Request) -> bytes:
    """Read the body, at most one byte past MAX_BODY.

    BodyLimit refused a declared length over the cap. A chunked body declares
    none; Falcon's `bounded_stream` then reads nothing, so read the stream
    itself when the server says it ends the input (gunicorn does), one byte
    past the cap to tell that it is over.
    """
    return _body_stream(req).read(MAX_BODY + 1)


def _body_stream(req: falcon.Request) -> Any:
    if req.content_length is None and req.env.get("wsgi.input_terminated"):
        return req.stream
    return req.bounded_stream


def check(body: Any, schema: dict[str, Any]) -> None:
    """Check a decoded body against an object schema.

    Raises:
        falcon.HTTPUnprocessableEntity: the first problem found, naming the field.
    """
    if not isinstance(body, dict):
        raise _invalid("the body must be a JSON object")
    properties: dict[str, Any] = schema["properties"]
    for name in body:
        if name not in properties:
            raise _invalid(f"unknown field {name!r}; the fields are: {', '.join(properties)}")
    for name in schema.get("required", ()):
        if name not in body:
            raise _invalid(f"{name}: required")
    if len(body) < schema.get("minProperties", 0):
        raise _invalid(f"send at least one of: {', '.join(properties)}")
    for name, value in body.items():
        _check_value(name, value, properties[name])


def _check_value(name: str, value: Any, schema: dict[str, Any]) -> None:
    kind = schema["type"]
    # bool is an int in Python; JSON keeps them apart and so do we.
    if not isinstance(value, _TYPES[kind]) or (kind == "integer" and isinstance(value, bool)):
        raise _invalid(f"{name}: must be {'an' if kind[0] in 'aeiou' else 'a'} {kind}")
    if "enum" in schema and value not in schema["enum"]:
        raise _invalid(f"{name}: must be one of {', '.join(map(str, schema['enum']))}")
    if isinstance(value, str) and len(value) < schema.get("minLength", 0):
        raise _invalid(f"{name}: at least {schema['minLength']} characters")
    if isinstance(value, str) and len(value) > schema.get("maxLength", len(value)):
        raise _invalid(f"{name}: at most {schema['maxLength']} characters")
    if isinstance(value, str) and not re.search(schema.get("pattern", ""), value):
        raise _invalid(f"{name}: {schema.get('description', 'malformed')}")
    if isinstance(value, list):
        if len(value) < schema.get("minItems", 0):
            raise _invalid(f"{name}: at least {schema['minItems']} item(s)")
        if len(value) > schema.get("maxItems", len(value)):
            raise _invalid(f"{name}: at most {schema['maxItems']} items")
        for item in value:
            _check_value(f"{name}[]", item, schema["items"])


def _invalid(description: str) -> falcon.HTTPUnprocessableEntity:
    return falcon.HTTPUnprocessableEntity(title="Invalid body", description=description)


def _no_constants(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")
