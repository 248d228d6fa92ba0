"""Keyset pagination with opaque cursors, stable while rows are inserted.

A page is the rows after the last one the client saw, in a fixed order
(sort key desc, id desc); the cursor is that last row's (key, id), so a row
inserted meanwhile either sorts before the cursor (the client sees it on a
fresh first page) or after it (on a later page): nothing repeats or is
skipped, as OFFSET would do.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from typing import Any

import falcon
from peewee import ModelSelect

from .routes import MAX_ID

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


def limit(req: falcon.Request) -> int:
    """Return ``?limit`` (default 50, 1 to 200); a bad value is a 400."""
    value = req.get_param_as_int("limit", min_value=1, max_value=MAX_LIMIT)
    return DEFAULT_LIMIT if value is None else value


def encode(key: float, row_id: int) -> str:
    """Return the cursor pointing after a row."""
    raw = json.dumps([key, row_id], separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode(cursor: str) -> tuple[float, int]:
    """Return the (key, id) a cursor holds.

    Raises:
        falcon.HTTPInvalidParam: the cursor was not made by `encode`.
    """
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key, row_id = json.loads(raw)
    except (ValueError, TypeError, binascii.Error):
        raise falcon.HTTPInvalidParam("not a cursor this API gave out", "cursor") from None
    if (
        not isinstance(key, (int, float))
        or isinstance(key, bool)
        or not math.isfinite(key)
        or not isinstance(row_id, int)
        or isinstance(row_id, bool)
        or not 0 <= row_id <= MAX_ID
    ):
        raise falcon.HTTPInvalidParam("not a cursor this API gave out", "cursor")
    return float(key), row_id


def page(
    query: ModelSelect[Any], key: Any, row_id: Any, req: falcon.Request
) -> tuple[list[Any], str | None]:
    """Return one page of `query` newest first, and the cursor of the next page.

    Args:
        query: the rows to page through; it must select `key` as "sort_key".
        key: the sort expression (descending), ties broken by `row_id`.
        row_id: the unique id column.
        req: the request carrying ``?cursor`` and ``?limit``.
    """
    size = limit(req)
    cursor = req.get_param("cursor")
    if cursor:
        after_key, after_id = decode(cursor)
        query = query.where((key < after_key) | ((key == after_key) & (row_id < after_id)))
    rows = list(query.order_by(key.desc(), row_id.desc()).limit(size + 1))
    if len(rows) <= size:
        return rows, None
    rows = rows[:size]
    last: Any = rows[-1]
    return rows, encode(last.sort_key, last.id)
