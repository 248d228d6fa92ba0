"""Cursors: a page's end position (`poller.listings.Position`) as an opaque string.

The read layer pages by keyset, newest first; here that position travels to
the client and back as ``?cursor``, with ``?limit`` the page size.
"""

from __future__ import annotations

import base64
import binascii
import json
import math

import falcon

from poller.listings import Position

from .routes import MAX_ID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def limit(req: falcon.Request) -> int:
    """Return ``?limit`` (default 50, 1 to 200); a bad value is a 400."""
    value = req.get_param_as_int("limit", min_value=1, max_value=MAX_LIMIT)
    return DEFAULT_LIMIT if value is None else value


def encode(position: Position) -> str:
    """Return the cursor of the page after `position`."""
    raw = json.dumps(list(position), separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str) -> Position:
    """Return the position a cursor holds; a video without a date has key None.

    Raises:
        falcon.HTTPInvalidParam: the cursor was not made by `encode`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise falcon.HTTPInvalidParam("not a cursor this API gave out", "cursor") from None
    if not (key is None or _finite_number(key)) or not (
        isinstance(row_id, int) and not isinstance(row_id, bool) and 0 <= row_id <= MAX_ID
    ):
        raise falcon.HTTPInvalidParam("not a cursor this API gave out", "cursor")
    return (None if key is None else float(key)), row_id


def after(req: falcon.Request) -> Position | None:
    """Return the position ``?cursor`` holds, or None for the first page."""
    cursor = req.get_param("cursor")
    return decode(cursor) if cursor else None


def _finite_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)
