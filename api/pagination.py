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
MAX_CURSOR = 200  # characters; the OpenAPI document says so too
MAX_KEY = 1e15  # a publication time in epoch seconds is far below; floats are exact here


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
    # A cursor we make is two numbers, well under MAX_CURSOR characters; a
    # longer one is refused before decoding, so a nested array cannot reach
    # the JSON parser's recursion limit.
    if len(cursor) > MAX_CURSOR:
        raise _not_a_cursor()
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error, RecursionError):
        raise _not_a_cursor() from None
    if not (key is None or _finite_number(key)) or not (
        isinstance(row_id, int) and not isinstance(row_id, bool) and 0 <= row_id <= MAX_ID
    ):
        raise _not_a_cursor()
    return (None if key is None else float(key)), row_id


def after(req: falcon.Request) -> Position | None:
    """Return the position ``?cursor`` holds, or None for the first page."""
    cursor = req.get_param("cursor")
    return decode(cursor) if cursor else None


def _finite_number(value: object) -> bool:
    """Return True for a JSON number a publication time can be.

    An int of 400 digits is a valid JSON number that `math.isfinite` and
    `float` refuse with OverflowError: compare it, exactly, first.
    """
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        return False
    if isinstance(value, int):
        return -MAX_KEY <= value <= MAX_KEY
    return math.isfinite(value) and -MAX_KEY <= value <= MAX_KEY


def _not_a_cursor() -> falcon.HTTPInvalidParam:
    return falcon.HTTPInvalidParam("not a cursor this API gave out", "cursor")
